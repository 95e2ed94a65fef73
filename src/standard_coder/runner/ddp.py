"""``torchrun`` support: one process group, rank 0 runs the pipeline, other ranks follow.

Under ``torchrun`` (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` in the environment) every rank runs
the same command. Only rank 0 runs the pipeline (reads the config, takes the lock, writes
checkpoints, outputs and manifests); every other rank calls :func:`follow` and never touches
the base folder: it waits for *jobs* that rank 0 sends when a stage reaches a distributed
computation (a job names a function by ``module:function`` and carries its arguments) and
runs them in lock-step with rank 0, until rank 0 sends ``done`` (:func:`finish`).

Messages are a JSON skeleton plus tensors, broadcast with ``torch.distributed.broadcast``
(:func:`broadcast_tree`): nothing is pickled. Backend: ``nccl`` when CUDA is available, else
``gloo``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from standard_coder.runner.stoptoken import remove_mp_tempdir

log = logging.getLogger(__name__)

WAIT = _dt.timedelta(hours=48)
"""Collective timeout: followers wait this long for rank 0 (mining and labels run first)."""

_stop_flag: dict[str, Any] = {"stop": False}


def env_world() -> tuple[int, int, int] | None:
    """``(rank, world_size, local_rank)`` when launched by ``torchrun``, else None."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
            int(os.environ.get("LOCAL_RANK", "0")))  # fmt: skip


def active() -> bool:
    """True when a process group of more than one rank is initialised."""
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def rank() -> int:
    """This process's rank (0 without a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Ranks in the process group (1 without one)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def backend() -> str:
    """``nccl`` on CUDA machines, ``gloo`` otherwise."""
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def comm_device() -> Any:
    """The device collective tensors live on (this rank's GPU under nccl, else CPU)."""
    import torch

    if backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def init() -> None:
    """Join the ``torchrun`` process group (idempotent)."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if backend() == "nccl":
        torch.cuda.set_device(comm_device())
    dist.init_process_group(backend=backend(), timeout=WAIT)
    log.info("ddp: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend())


def stop_requested() -> bool:
    """A follower's SIGINT/SIGTERM (rank 0 uses the runner's own stop request)."""
    return bool(_stop_flag["stop"])


def broadcast_tree(tree: Any = None, src: int = 0) -> Any:
    """Broadcast a tree of dicts, lists, JSON scalars and tensors from ``src``; returns it.

    The structure travels as JSON (tensors replaced by ``{"__tensor__": i, dtype, shape}``),
    then each tensor with ``dist.broadcast``. Other ranks pass nothing.
    """
    import torch
    import torch.distributed as dist

    dev = comm_device()
    tensors: list[torch.Tensor] = []

    def strip(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            tensors.append(x.detach())
            return {"__tensor__": len(tensors) - 1, "dtype": str(x.dtype).split(".")[-1],
                    "shape": list(x.shape), "device": str(x.device)}  # fmt: skip
        if isinstance(x, dict):
            return {"__dict__": [[k, strip(v)] for k, v in x.items()]}
        if isinstance(x, list | tuple):
            return [strip(v) for v in x]
        return x

    me = dist.get_rank()
    if me == src:
        blob = torch.tensor(list(json.dumps(strip(tree)).encode()), dtype=torch.uint8)
        size = torch.tensor([blob.numel()], dtype=torch.int64, device=dev)
    else:
        size = torch.zeros(1, dtype=torch.int64, device=dev)
    dist.broadcast(size, src)
    buf = blob.to(dev) if me == src else torch.empty(int(size), dtype=torch.uint8, device=dev)
    dist.broadcast(buf, src)
    skeleton = json.loads(bytes(buf.cpu().tolist()).decode())
    got: dict[int, torch.Tensor] = {}

    def collect(x: Any) -> None:
        if isinstance(x, dict) and "__tensor__" in x:
            i = int(x["__tensor__"])
            dtype = getattr(torch, x["dtype"])
            if me == src:
                t = tensors[i].to(dev).contiguous()
            else:
                t = torch.empty(x["shape"], dtype=dtype, device=dev)
            if dtype == torch.bool:  # gloo has no bool collectives
                u = t.to(torch.uint8)
                dist.broadcast(u, src)
                t = u.to(torch.bool)
            else:
                dist.broadcast(t, src)
            got[i] = t.to(x["device"] if me == src else "cpu")
        elif isinstance(x, dict):
            for _, v in x["__dict__"]:
                collect(v)
        elif isinstance(x, list):
            for v in x:
                collect(v)

    def build(x: Any) -> Any:
        if isinstance(x, dict) and "__tensor__" in x:
            return got[int(x["__tensor__"])]
        if isinstance(x, dict):
            return {k: build(v) for k, v in x["__dict__"]}
        if isinstance(x, list):
            return [build(v) for v in x]
        return x

    collect(skeleton)
    return build(skeleton)


def submit(fn: str, args: dict[str, Any]) -> None:
    """Rank 0: ask every follower to run ``fn`` (``module:function``) with ``args``; rank 0
    then runs its own side of the same computation."""
    broadcast_tree({"op": "call", "fn": fn, "args": args})


def finish() -> None:
    """Rank 0: tell the followers to exit, then leave the process group."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    try:
        broadcast_tree({"op": "done"})
        # every rank leaves together: destroying the group while a follower is still inside
        # the last broadcast aborted rank 0 at exit ("terminate called without an active
        # exception") in about a third of the two-rank runs
        dist.barrier()
    finally:
        dist.destroy_process_group()


def leave(code: int) -> NoReturn:
    """End a torchrun rank that left the process group: flush, remove the process's
    multiprocessing temporary folder (:func:`~standard_coder.runner.stoptoken.remove_mp_tempdir`),
    then ``os._exit(code)``.

    Outputs are written atomically before this point; what is skipped is the interpreter's
    teardown, in which torch's communication threads aborted a rank after a finished run
    ("terminate called without an active exception", exit -6) in about a third of two-rank runs.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed stream must not keep the rank alive
            stream.flush()
    remove_mp_tempdir()
    os._exit(code)


def _resolve(spec: str) -> Callable[..., Any]:
    mod, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(mod), name)
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn  # type: ignore[no-any-return]


def follow() -> int:
    """A non-zero rank: run rank 0's jobs until ``done``; the exit code (143/130 when a
    signal stopped a job, else 0)."""
    import torch.distributed as dist

    def on_signal(signum: int, _frame: Any) -> None:
        _stop_flag["stop"] = True
        _stop_flag["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while True:
            msg = broadcast_tree()
            if msg.get("op") == "done":
                dist.barrier()  # rank 0 waits here too before leaving the group (finish())
                break
            _resolve(str(msg["fn"]))(**msg["args"])
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if _stop_flag["stop"]:
        return 130 if _stop_flag.get("signal") == signal.SIGINT else 143
    return 0


def agree(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (one all-reduce)."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(int(t.item()) > 0)


def global_mean(local_mean: Any, count: int, total: int) -> Any:
    """The mean over all ranks of a value whose shard mean is ``local_mean`` over ``count`` of
    ``total`` items (detached; the same on every rank)."""
    import torch.distributed as dist

    t = (local_mean.detach().float() * count).reshape(1).to(comm_device())
    dist.all_reduce(t)
    return (t / total)[0]
