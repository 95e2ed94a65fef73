"""The skip-or-run rules of ``runner.decision.decide``, one rule at a time, on real files.

Each test builds the manifest a completed stage would leave (via ``build_manifest`` over a real
scan), changes one thing, and checks the reason code, the detail and the text users see.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from standard_coder.runner import manifest as mf
from standard_coder.runner.decision import Decision, PathSpec, Reason, decide, scan
from standard_coder.runner.errors import InputMissing
from standard_coder.runner.fingerprint import fingerprint
from standard_coder.runner.hashcache import DictHashCache

PARAMS = {"lr": 0.1, "epochs": 3}


class Stage:
    """One stage's inputs/outputs on disk and the manifest of its last completed run."""

    def __init__(self, root: Path) -> None:
        (root / "data").mkdir(parents=True)
        (root / "data" / "a.txt").write_text("alpha\n")
        (root / "data" / "b.txt").write_text("beta\n")
        (root / "cfg.json").write_text("{}\n")
        (root / "out").mkdir()
        (root / "out" / "model.bin").write_bytes(b"weights")
        self.root = root
        self.inputs = [PathSpec("cfg.json", root / "cfg.json"), PathSpec("data", root / "data")]
        self.outputs = [PathSpec("out/model.bin", root / "out" / "model.bin")]
        self.cache = DictHashCache()
        ins = scan(self.inputs, self.cache)
        outs = scan(self.outputs, self.cache)
        self.old_files = {k: v for k, v in ins.files.items()}
        self.manifest: dict[str, Any] = mf.build_manifest(
            stage="train",
            inputs=ins.checksums,
            inputs_checksum=ins.checksum,
            params=PARAMS,
            runner_version="1.0",
            outputs=outs.checksums,
            outputs_checksum=outs.checksum,
            fingerprint=fingerprint(
                inputs_checksum=ins.checksum,
                params=PARAMS,
                code_version="code-1",
                runner_version="1.0",
                device=None,
            ),
            code_version="code-1",
            device=None,
            input_tokens=ins.tokens,
            output_tokens=outs.tokens,
        )

    def decide(self, **change: Any) -> Decision:
        args: dict[str, Any] = {
            "forced": False,
            "params": PARAMS,
            "code_version": "code-1",
            "runner_version": "1.0",
            "device": None,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "cache": self.cache,
            "old_files": lambda: self.old_files,
        }
        manifest = change.pop("manifest", self.manifest)
        args.update(change)
        decision, _, _ = decide(manifest, **args)
        return decision


@pytest.fixture
def stage(tmp_path: Path) -> Stage:
    return Stage(tmp_path / "p")


def test_unchanged_stage_is_skipped_up_to_date(stage: Stage) -> None:
    d = stage.decide()
    assert d == Decision(True, Reason.UP_TO_DATE) and d.reason == "up to date"


def test_forced_wins_over_everything(stage: Stage) -> None:
    d = stage.decide(forced=True, manifest=None)
    assert not d.skip and d.code is Reason.FORCED and d.reason == "forced"


def test_no_manifest_is_new(stage: Stage) -> None:
    d = stage.decide(manifest=None)
    assert (d.skip, d.code, d.reason) == (False, Reason.NEW, "new")


def test_params_change_names_the_key(stage: Stage) -> None:
    d = stage.decide(params={"lr": 0.2, "epochs": 3})
    assert d.code is Reason.PARAMS_CHANGED
    assert d.detail == "lr 0.1 -> 0.2" and d.reason == "params changed: lr 0.1 -> 0.2"


def test_a_switch_that_adds_and_drops_many_keys_leads_with_the_changed_value(
    stage: Stage,
) -> None:
    """A forecast whose sprint now needs no model dropped a dozen params: the reason listed
    every one as ``(removed)`` after the key the user changed."""
    wide = stage.decide(params={"lr": 0.2, **{f"k{i}": i for i in range(6)}})
    assert wide.detail == "lr 0.1 -> 0.2; k0 (new) -> 0; k1 (new) -> 1 (and 5 more)"  # + epochs


def test_code_runner_and_device_changes(stage: Stage) -> None:
    assert stage.decide(code_version="code-2").reason == "code changed"
    d = stage.decide(runner_version="1.1")
    assert d.code is Reason.RUNNER_CHANGED and d.reason == "runner version changed: 1.0 -> 1.1"
    d = stage.decide(device="cuda")
    assert d.code is Reason.DEVICE_CHANGED and d.reason == "device changed: None -> cuda"


def test_params_are_checked_before_code(stage: Stage) -> None:
    d = stage.decide(params={"lr": 0.1, "epochs": 4}, code_version="code-2")
    assert d.code is Reason.PARAMS_CHANGED


def test_declared_outputs_differ(stage: Stage) -> None:
    extra = [*stage.outputs, PathSpec("out/extra", stage.root / "out" / "extra")]
    d = stage.decide(outputs=extra)
    assert d.code is Reason.OUTPUTS_CHANGED and d.detail == "out/extra (new)"
    assert d.reason == "outputs changed: out/extra (new)"  # it said "declared outputs differ"


def test_missing_output(stage: Stage) -> None:
    (stage.root / "out" / "model.bin").unlink()
    d = stage.decide()
    assert (d.code, d.reason) == (Reason.OUTPUTS_MISSING, "outputs missing: out/model.bin")


def test_declared_inputs_differ_names_the_first(stage: Stage) -> None:
    """An input dropped, added, or one in place of another (a model of another predictor was
    named as the old one, "input changed: models/auto/model.pt", as if that file changed)."""
    d = stage.decide(inputs=stage.inputs[:1])
    assert d.code is Reason.INPUT_CHANGED and d.reason == "input changed: data (no longer read)"
    other = PathSpec("models/mdn/model.pt", stage.inputs[1].path)
    d = stage.decide(inputs=[stage.inputs[0], other])
    assert d.reason == "input changed: models/mdn/model.pt (was data)", d.reason
    d = stage.decide(inputs=[*stage.inputs, other])
    assert d.reason == "input changed: models/mdn/model.pt (new)", d.reason


def test_changed_file_in_a_folder_is_named(stage: Stage) -> None:
    (stage.root / "data" / "b.txt").write_text("BETA\n")
    d = stage.decide()
    assert d.code is Reason.INPUT_CHANGED and d.detail == "data/b.txt"
    (stage.root / "cfg.json").write_text('{"x": 1}\n')
    assert stage.decide().reason == "input changed: cfg.json"


def test_touched_but_same_content_is_skipped_with_its_own_reason(stage: Stage) -> None:
    st = os.stat(stage.root / "data" / "a.txt")
    os.utime(stage.root / "data" / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    d = stage.decide()
    assert d.skip and d.code is Reason.TOUCHED and d.reason == "mtime changed, content same"


def test_fingerprint_mismatch(stage: Stage) -> None:
    stage.manifest[mf.FINGERPRINT] = "0" * 64
    d = stage.decide()
    assert (d.skip, d.code, d.reason) == (False, Reason.FINGERPRINT_CHANGED, "fingerprint changed")


def test_edited_output_is_named(stage: Stage) -> None:
    (stage.root / "out" / "model.bin").write_bytes(b"tampered")
    d = stage.decide()
    assert d.code is Reason.OUTPUTS_CHANGED and d.reason == "outputs changed: out/model.bin"


def test_missing_input_raises_naming_the_path(stage: Stage) -> None:
    (stage.root / "cfg.json").unlink()
    with pytest.raises(InputMissing, match=r"cfg\.json"):
        stage.decide()


def test_deciding_writes_no_file(stage: Stage) -> None:
    before = {p: p.stat().st_mtime_ns for p in stage.root.rglob("*")}
    (stage.root / "data" / "a.txt").touch()
    before[stage.root / "data" / "a.txt"] = (stage.root / "data" / "a.txt").stat().st_mtime_ns
    stage.decide()
    stage.decide(manifest=None)
    assert {p: p.stat().st_mtime_ns for p in stage.root.rglob("*")} == before


@pytest.mark.parametrize(
    ("decision", "text"),
    [
        (Decision(False, Reason.MANIFEST_CORRUPT), "manifest corrupt"),
        (
            Decision(False, Reason.UPSTREAM_WILL_RUN, "mine, train"),
            "upstream will run: mine, train",
        ),
        (Decision(False, Reason.ERROR, "x: {not a field}"), "x: {not a field}"),
    ],
)
def test_reason_texts_of_engine_decisions(decision: Decision, text: str) -> None:
    assert decision.reason == text


def test_every_reason_code_has_a_text() -> None:
    for code in Reason:
        assert Decision(False, code, "d").reason


def _write(ctx: Any) -> None:
    data = (ctx.base_dir.parent / "in.txt").read_text()
    (ctx.base_dir.parent / "out.txt").write_text(data.upper())


def test_session_assess_reads_only_and_settle_does_the_writes(tmp_path: Path) -> None:
    """After a run: a touched input and a corrupt manifest change nothing until ``settle``."""
    from standard_coder.runner.engine import run_pipeline
    from standard_coder.runner.progress import ProgressDisplay
    from standard_coder.runner.session import RunSession
    from standard_coder.runner.stage import Pipeline
    from standard_coder.runner.stage import Stage as RunnerStage

    (tmp_path / "in.txt").write_text("hello\n")
    stage = RunnerStage(
        name="up", run=_write, inputs=(tmp_path / "in.txt",), outputs=(tmp_path / "out.txt",)
    )
    pipe = Pipeline(name="t", stages=[stage], base_dir=tmp_path / "state")
    quiet = ProgressDisplay(enabled=False, stream=None)
    assert run_pipeline(pipe, install_signals=False, progress=quiet).exit_code == 0
    manifest = tmp_path / "state" / "stages" / "up" / "manifest.json"
    st = os.stat(tmp_path / "in.txt")
    os.utime(tmp_path / "in.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    before = manifest.read_bytes()

    session = RunSession(pipe, root=tmp_path, readonly=False, sink=None)
    found = session.assess("up", forced=False)
    assert found.decision.code is Reason.TOUCHED and manifest.read_bytes() == before
    session.settle("up", found)
    assert manifest.read_bytes() != before  # fresh stat tokens: the next check hashes nothing
    assert session.assess("up", forced=False).decision.code is Reason.UP_TO_DATE

    manifest.write_text("{not json")
    found = session.assess("up", forced=False)
    assert found.decision.reason == "manifest corrupt" and manifest.exists()
    readonly = RunSession(pipe, root=tmp_path, readonly=True, sink=None)
    readonly.settle("up", readonly.assess("up", forced=False))
    assert manifest.exists()  # a read-only session (status, --dry-run) only logs it
    session.settle("up", found)
    assert not manifest.exists() and any((tmp_path / "state" / "quarantine").iterdir())
