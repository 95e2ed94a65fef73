"""Device resolution with fallback; CUDA and MPS availability faked by monkeypatching."""

from __future__ import annotations

import pytest
import torch

from standard_coder.runner.device import available_devices, resolve_device


def _fake(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool, count: int = 1) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "pref", "expected"),
    [
        (True, True, "auto", ("cuda", None)),
        (False, True, "auto", ("mps", None)),
        (False, False, "auto", ("cpu", None)),
        (True, False, "cpu", ("cpu", None)),
        (True, False, "cuda", ("cuda", None)),
        (False, True, "mps", ("mps", None)),
        (False, False, "cuda", ("cpu", "cuda requested but not available; using cpu")),
        (False, True, "cuda", ("mps", "cuda requested but not available; using mps")),
        (False, False, "mps", ("cpu", "mps requested but not available; using cpu")),
        (True, False, "mps", ("cuda", "mps requested but not available; using cuda")),
        (True, False, " CUDA ", ("cuda", None)),
        (True, False, "cuda:0", ("cuda:0", None)),
    ],
)
def test_resolve(
    monkeypatch: pytest.MonkeyPatch,
    cuda: bool,
    mps: bool,
    pref: str,
    expected: tuple[str, str | None],
) -> None:
    _fake(monkeypatch, cuda=cuda, mps=mps)
    assert resolve_device(pref) == expected


def test_cuda_index_past_count(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, cuda=True, mps=False, count=1)
    device, reason = resolve_device("cuda:3")
    assert device == "cuda" and reason is not None and "only 1 CUDA" in reason


@pytest.mark.parametrize("bad", ["gpu", "tpu", "", "mps:0", "cpu:1"])
def test_unknown_preference(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device(bad)


def test_available_devices_always_ends_with_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert available_devices()[-1] == "cpu"
    _fake(monkeypatch, cuda=True, mps=True)
    assert available_devices() == ["cuda", "mps", "cpu"]


def test_real_machine() -> None:
    device, reason = resolve_device("auto")
    assert reason is None and device in ("cuda", "mps", "cpu")
    assert resolve_device("cpu") == ("cpu", None)


def test_cpu_only_machine_is_detected_without_importing_torch() -> None:
    """The no-op path must not pay torch's import time just to learn there is no GPU."""
    import subprocess
    import sys

    code = (
        "import sys; from standard_coder.runner.device import resolve_device; "
        "d, _ = resolve_device('auto'); print(d, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    device, imported = out.stdout.split()
    import torch

    if device == "cpu" and not torch.cuda.is_available():
        assert imported == "False"
    else:  # a GPU machine: torch had to be asked
        assert device == "cuda"


_GPU_BOX = (
    "import sys, json; from pathlib import Path; import standard_coder.runner.device as d; "
    # as on a machine with GPU device nodes and a CUDA build of torch: only torch can tell
    "d._no_accelerator_possible = lambda device: False; "
    "from standard_coder.runner.definition import LazyDevice; "
    "lazy = LazyDevice('auto', Path(sys.argv[1])); first = lazy(); "
    "before = 'torch' in sys.modules; "
    "checked = lazy.verified(); "
    "print(json.dumps([first, before, checked, 'torch' in sys.modules]))"
)


def _lazy_run(cache: object, **env: str) -> list[object]:
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _GPU_BOX, str(cache)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return list(json.loads(out.stdout))


def test_a_gpu_machine_asks_torch_once_then_reuses_the_answer(tmp_path: object) -> None:
    """A no-op rerun on a GPU machine resolves ``auto`` from the stored answer, without torch;
    a stage about to run (``verified``) still asks torch."""
    from pathlib import Path

    cache = Path(str(tmp_path)) / "cache" / "device.json"
    expected = resolve_device("auto")[0]
    assert _lazy_run(cache) == [expected, True, expected, True]  # asked torch, stored
    assert cache.is_file()
    assert _lazy_run(cache)[:2] == [expected, False]  # the no-op path: torch not imported
    # another device visibility is another machine state: torch is asked again
    assert _lazy_run(cache, CUDA_VISIBLE_DEVICES="")[:2] == [expected, True]


def test_a_stored_answer_that_no_longer_holds_is_corrected_before_a_stage_runs(
    tmp_path: object,
) -> None:
    """The GPU went away (or came) since the answer was stored: the no-op path trusts the
    stored answer, the stage about to run gets torch's and the store is corrected."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    cache = Path(str(tmp_path)) / "device.json"
    expected = resolve_device("auto")[0]
    wrong = "cuda" if expected == "cpu" else "cpu"
    key = subprocess.run(
        [sys.executable, "-c", "from standard_coder.runner.device import machine_key as k; "
         "print(k('auto'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    named = {"name": "NVIDIA H100 80GB HBM3"} if wrong == "cuda" else {}  # as stored with torch
    cache.write_text(json.dumps({key: {"device": wrong, "reason": None, **named}}))
    assert _lazy_run(cache) == [wrong, False, expected, True]
    assert json.loads(cache.read_text())[key]["device"] == expected


def test_the_machine_key_ignores_the_nodes_a_first_cuda_use_creates() -> None:
    """The driver may make nvidia-uvm (and -tools, -modeset, caps) when a process first uses
    CUDA: a key that counted them would move after the first run's own CUDA use."""
    from standard_coder.runner.device import gpu_nodes

    before = ["null", "nvidia0", "nvidiactl", "tty", "renderD128"]
    after = [*before, "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "nvidia-caps"]
    assert gpu_nodes(after) == gpu_nodes(before) == ["nvidia0", "nvidiactl", "renderD128"]
    assert gpu_nodes([*before, "nvidia1"]) != gpu_nodes(before)  # a GPU more: another key
    assert gpu_nodes(["kfd", "dri"]) == ["kfd"]


_NAMED = (
    "import sys, json; from pathlib import Path; import standard_coder.runner.device as d; "
    "d._no_accelerator_possible = lambda device: False; "
    "from standard_coder.runner.definition import LazyDevice; "
    "lazy = LazyDevice('auto', Path(sys.argv[1])); first = lazy(); "
    "gone = len(sys.argv) > 2 and Path(sys.argv[1]).unlink(); "
    "print(json.dumps([first, lazy.name(), 'torch' in sys.modules]))"
)


def test_a_stored_cuda_answer_keeps_the_gpus_name_so_a_no_op_never_imports_torch(
    tmp_path: object,
) -> None:
    """A no-op rerun on an H100 machine imported torch only to name the GPU in its env stamp
    (3.6-5.3 s against < 2 s, 2026-12-05): the name is stored with the answer, and an answer
    stored without one (before this) is asked again once."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from standard_coder.runner.device import machine_key

    cache = Path(str(tmp_path)) / "device.json"
    key = subprocess.run(
        [sys.executable, "-c", "from standard_coder.runner.device import machine_key as k; "
         "print(k('auto'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert key == machine_key("auto")

    def run() -> list[object]:
        out = subprocess.run([sys.executable, "-c", _NAMED, str(cache)], capture_output=True,
                             text=True, check=True)  # fmt: skip
        return list(json.loads(out.stdout))

    cache.write_text(json.dumps({key: {"device": "cuda", "reason": None,
                                       "name": "NVIDIA H100 80GB HBM3"}}))  # fmt: skip
    assert run() == ["cuda", "NVIDIA H100 80GB HBM3", False]
    # the name came with the answer: the file is read once (removed after the first call)
    out = subprocess.run([sys.executable, "-c", _NAMED, str(cache), "remove"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(out.stdout) == ["cuda", "NVIDIA H100 80GB HBM3", False]
    assert not cache.exists()
    cache.write_text(json.dumps({key: {"device": "cuda", "reason": None}}))  # no name: asked
    expected = resolve_device("auto")[0]
    assert run() == [expected, None, True]
    assert json.loads(cache.read_text())[key]["device"] == expected
