"""A corrupt ``change_rep/`` (``representation.json``, ``scaling.npz``) is one line naming the file
and a plain cause, exit 2, in every command that reads it: one loader
(``pipelines.sch_effort.read_representation``) for estimate, eval, team output and forecast."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from standard_coder.pipelines.sch_effort import ModelUnreadable, read_representation
from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.sch.features.representation import ChangeRepresentation
from standard_coder.sch.features.synthetic import synthetic_changes

RAW = ("Expecting", "codec", "Error(", "Errno", "KeyError", "zip file", "invalid literal")
"""What a raw codec/JSON/numpy message says: never in the line the user reads."""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    commits = synthetic_changes(30, seed=1).commits
    rep = ChangeRepresentation(kind="tokens", top_n_identifiers=3).fit(commits)
    return rep.save(tmp_path_factory.mktemp("rep") / "change_rep")


def _edit(key: str, value: object) -> Callable[[str], str]:
    def edit(text: str) -> str:
        meta = json.loads(text)
        if value is None:
            del meta[key]
        else:
            meta[key] = value
        return json.dumps(meta)

    return edit


CASES: list[tuple[str, Callable[[str], str] | bytes, str]] = [
    ("truncated", lambda t: t[:200], "representation.json: not valid JSON (it ends too early)"),
    ("empty", lambda t: "",
     "representation.json: the representation file is empty (expected a JSON object)"),
    ("not utf-8", b"\xff\xfe{", "representation.json: not valid JSON (not UTF-8 text)"),
    ("garbage after", lambda t: t + "x", "representation.json: not valid JSON (line "),
    ("a list", lambda t: "[1]",
     "representation.json: the representation file is a JSON array, not an object"),
    ("no kind", _edit("kind", None), "representation.json: missing key 'kind'"),
    ("no checksum", _edit("checksum", None), "representation.json: missing key 'checksum'"),
    ("no format", _edit("format", None), "representation.json: missing key 'format'"),
    ("text for int", _edit("top_n_identifiers", "abc"),
     "representation.json: 'top_n_identifiers' is not an integer"),
    ("names not a list", _edit("feature_names", 5),
     "representation.json: 'feature_names' is not a list of strings"),
    ("a number name", _edit("feature_names", [1, 2]),
     "representation.json: 'feature_names' is not a list of strings"),
    ("flag not bool", _edit("commit_subject", "yes"),
     "representation.json: 'commit_subject' is not true or false"),
    ("unknown kind", _edit("kind", "words"),
     "representation.json: 'kind' 'words' is not tokens, hybrid or loc"),
    ("no file", b"", "representation.json: missing"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "said"), CASES, ids=[c[0] for c in CASES])
def test_a_corrupt_representation_json_is_named_with_a_plain_cause(
    saved: Path, tmp_path: Path, name: str, change: Callable[[str], str] | bytes, said: str
) -> None:
    import shutil

    rep_dir = shutil.copytree(saved, tmp_path / "change_rep")
    meta = rep_dir / "representation.json"
    if name == "no file":
        meta.unlink()
    elif isinstance(change, bytes):
        meta.write_bytes(change)
    else:
        meta.write_text(change(meta.read_text("utf-8")), "utf-8")
    with pytest.raises(ModelUnreadable) as err:
        read_representation(rep_dir, config_path=tmp_path / "c.toml")
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{meta}: "), line
    assert said in line and f"--config {tmp_path / 'c.toml'} --to train_sch" in line, line
    assert not any(raw in line for raw in RAW), line


@pytest.mark.parametrize("size", [0, 40, 400])
def test_a_truncated_scaling_npz_is_named(saved: Path, tmp_path: Path, size: int) -> None:
    import shutil

    rep_dir = shutil.copytree(saved, tmp_path / "change_rep")
    npz = rep_dir / "scaling.npz"
    npz.write_bytes(npz.read_bytes()[:size])
    with pytest.raises(ModelUnreadable) as err:
        read_representation(rep_dir)
    line = str(err.value)
    assert line.startswith(f"{npz}: not a readable .npz of arrays (truncated or edited)"), line
    assert not any(raw in line for raw in RAW), line


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "standard_coder", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_estimate_and_eval_exit_2_with_the_one_line(saved: Path, tmp_path: Path) -> None:
    """The commands read the representation through the one loader: the line, exit 2."""
    import shutil

    from tests.unit.gitfix import committed_repo

    config = tmp_path / "c.toml"
    config.write_text('[outputs]\nbase_dir = "out"\n[training]\npredictor = "mdn"\n')
    layout = SchLayout(tmp_path / "out", "mdn")
    shutil.copytree(saved, layout.change_rep)
    meta = layout.change_rep / "representation.json"
    meta.write_text(meta.read_text("utf-8")[:100], "utf-8")
    layout.model.parent.mkdir(parents=True)
    layout.model.write_bytes(b"PK\x03\x04 a cut archive: a model is read after its representation")
    want = f"error: {meta}: not valid JSON (it ends too early); rebuild it: "
    for args in (
        ("estimate", "-c", str(config), "--repo", str(committed_repo(tmp_path))),
        ("eval", "-c", str(config), "--checkpoint", str(layout.model)),
    ):
        proc = _cli(*args)
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith(want) and line.endswith(f"--config {config} --to train_sch"), line
