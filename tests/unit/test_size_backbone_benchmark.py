"""benchmarks/size_backbone.py: each size variant counts what docs/effort-models.md says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.benchmodule import load_benchmark

from standard_coder.sch.records import CommitRecord, FileChange

ROOT = Path(__file__).resolve().parents[2]
bench = load_benchmark("size_backbone")


def fc(path: str, diff: str, added: int, deleted: int = 0) -> FileChange:
    return FileChange(path=path, old_path=None, language="python", lines_added=added,
                      lines_deleted=deleted, is_binary=False, diff=diff)  # fmt: skip


def test_variants_of_one_commit() -> None:
    src = (
        '@@ -1,2 +1,7 @@\n-def f():\n-    return 1\n+def g():\n+    """Doc.\n+\n+    More.\n'
        '+    """\n+    # note\n+    return 1\n'
    )
    test = "@@ -0,0 +1,2 @@\n+def test_g():\n+    assert g() == 1\n"
    files = (fc("pkg/m.py", src, 7, 2), fc("tests/test_m.py", test, 2))
    rec = CommitRecord(repo="r", commit_id="c", author_id="a", author_name="A", authored_at=0,
                       author_tz_offset_min=0, committed_at=0, files=files)  # fmt: skip
    counts = bench.commit_variants(rec, {("c", "tests/test_m.py"): "A"})
    v = dict(zip(("lines_added", *bench.VARIANTS), counts, strict=True))
    assert v["lines_added"] == 9
    assert v["nonblank"] == 8  # the docstring's blank line
    assert v["unmoved"] == 7  # "return 1" was deleted above: moved
    assert v["code"] == 4  # def g, return 1, and the test's two lines: no docstring, no comment
    assert v["effective"] == 3  # code and not moved
    assert v["test_half"] == 7 + 1 and v["new_half"] == 7 + 1


def test_missing_pipeline_output_is_a_usage_error(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks/size_backbone.py"), str(tmp_path)]
    env = {"PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "run the pipeline first" in r.stderr and not r.stdout
