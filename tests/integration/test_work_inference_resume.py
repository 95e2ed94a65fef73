"""SIGKILL during work-inference fitting, then rerun: finished authors are not refitted and the
final labels equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from standard_coder.runner.ledger import SqliteLedger
from standard_coder.sch.teamsim.team import TeamSpec, load_truth, simulate_team
from standard_coder.sch.work_inference import (
    HMMOptions,
    WorkInferenceOptions,
    histories_from_truth,
    infer_labels,
)

pytestmark = pytest.mark.integration

EPOCHS = 150
SCRIPT = """
import json, sys
from pathlib import Path
from standard_coder.runner.ledger import SqliteLedger
from standard_coder.sch.teamsim.team import load_truth
from standard_coder.sch.work_inference import (
    HMMOptions, WorkInferenceOptions, histories_from_truth, infer_labels)
truth, out, epochs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
opts = WorkInferenceOptions(label_samples_per_commit=50, min_commits_per_author=10,
                            hmm=HMMOptions(epochs=epochs))
led = SqliteLedger(out / "ledger.sqlite")
ls = infer_labels(histories_from_truth(load_truth(truth)), opts, kind="hmm", out_dir=out,
                  seed=7, ledger=led)
led.close()
print(json.dumps({"fitted": list(ls.fitted_items)}))
"""


def _opts() -> WorkInferenceOptions:
    return WorkInferenceOptions(
        label_samples_per_commit=50, min_commits_per_author=10, hmm=HMMOptions(epochs=EPOCHS)
    )


def test_sigkill_during_fitting_then_resume(tmp_path: Path) -> None:
    res = simulate_team(tmp_path / "sim", TeamSpec(n_authors=4, weeks=3), seed=9)
    out = tmp_path / "wi"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(res.truth_path), str(out), str(EPOCHS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    done_at_kill: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        done_at_kill = sorted((out / "hmm").glob("*.npz")) if (out / "hmm").exists() else []
        if done_at_kill:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    done_at_kill = sorted((out / "hmm").glob("*.npz"))
    assert 1 <= len(done_at_kill) < 4
    mtimes = {p.name: p.stat().st_mtime_ns for p in done_at_kill}

    hs = histories_from_truth(load_truth(res.truth_path))
    led = SqliteLedger(out / "ledger.sqlite")
    resumed = infer_labels(hs, _opts(), kind="hmm", out_dir=out, seed=7, ledger=led)
    assert len(led) == 4
    led.close()
    assert len(resumed.fitted_items) == 4 - len(done_at_kill)
    for p in done_at_kill:  # finished authors were not refitted
        assert p.stat().st_mtime_ns == mtimes[p.name]
        item = json.loads(p.with_suffix(".json").read_text())["item_id"]
        assert item not in resumed.fitted_items

    clean = infer_labels(hs, _opts(), kind="hmm", out_dir=tmp_path / "clean", seed=7)
    assert clean.keys == resumed.keys
    assert np.array_equal(clean.samples_hours, resumed.samples_hours)
    assert np.array_equal(clean.expected_minutes, resumed.expected_minutes)
