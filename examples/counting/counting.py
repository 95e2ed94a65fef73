"""The counting example pipeline: ``count`` (items through the ledger) -> ``train`` (a small
torch model with exact checkpoints). Built by ``build(config_path, overrides)``.

Read it as the template for a resumable stage:

* ``count``: list the items, skip those the ledger has under the same key, ``ctx.map`` the
  rest, record each result in the parent, and write the outputs only once every item is done.
* ``train``: one loop in nanoGPT's shape (``counting_train.py``); the whole training state is
  one dict, saved every ``checkpoint_every`` steps and when ``ctx.should_stop()`` turns true,
  restored exactly; with ``[training] distributed = "ddp"`` under ``torchrun``, DDP.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from standard_coder.runner.context import StageContext
from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.stage import DistributedTraining, Pipeline, Stage

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pool workers import counting_work by name
    sys.path.insert(0, str(HERE))

import counting_work  # noqa: E402

CODE_FILES = (HERE / "counting.py", HERE / "counting_work.py", HERE / "counting_train.py")
TOP_KEYS = {"pipeline", "outputs", "runner", "params", "training"}
PARAM_KEYS = {
    "count": {"items", "work", "commit_every"},
    "train": {"steps", "checkpoint_every", "batch_size", "hidden", "dropout", "lr"},
}


# --------------------------------------------------------------------------- stage 1: count
def count_items(ctx: StageContext) -> None:
    """Process ``items`` work items; each is recorded in the ledger as soon as it is done."""
    p = ctx.params
    n, work = int(p["items"]), int(p["work"])
    key = f"seed={ctx.seed};work={work}"  # everything an item's result depends on
    ledger = ctx.ledger("items")
    if hasattr(ledger, "batch_size"):  # SqliteLedger: commit every N items, not every item
        ledger.batch_size = int(p["commit_every"])
    ids = [f"item-{i:05d}" for i in range(n)]
    todo = [(i, ctx.seed, work) for i in ids if not ledger.is_done(i, key)]
    if len(todo) < n:
        ctx.log.info("resuming: %d/%d items already done", n - len(todo), n)
    for (item_id, _, _), result in ctx.map(counting_work.process_item, todo, desc="count"):
        ledger.mark_done(item_id, key, result)
    done = sum(1 for i in ids if ledger.is_done(i, key))
    ctx.set_summary(done=done, total=n)
    if ctx.should_stop():
        return  # the runner reports "interrupted: rerun to resume (done/total items done)"
    lines = []
    for item_id in ids:
        record = ledger.get(item_id)
        assert record is not None and record[0] == key
        lines.append(json.dumps({"id": item_id, **record[1]}, sort_keys=True))
    text = "\n".join(lines) + "\n"
    out = ctx.base_dir / "out"
    atomic_write_text(out / "counts.jsonl", text)
    atomic_write_json(
        out / "counts_summary.json",
        {
            "items": n,
            "sum": sum(json.loads(line)["value"] for line in lines),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
    )


# --------------------------------------------------------------------------- stage 2: train
def train_model(ctx: StageContext) -> None:
    """Train a small MLP (dropout, shuffled batches) with exact, resumable checkpoints; under
    ``[training] distributed = "ddp"`` and ``torchrun``, with DDP over every rank
    (``counting_train``)."""
    import counting_train  # torch: imported when the stage runs, not when the pipeline loads
    import torch

    from standard_coder.runner import ddp

    p = {k: v for k, v in ctx.params.items() if k != "distributed"}
    steps = int(p["steps"])
    torch.set_num_threads(1)  # bitwise-reproducible float sums on CPU
    text = (ctx.base_dir / "out" / "counts.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines() if line]
    bits = [[(int(r["digest"], 16) >> k) & 1 for k in range(16)] for r in rows]
    x = torch.tensor(bits, dtype=torch.float32)
    y = torch.tensor([[r["value"] / 1000.0] for r in rows], dtype=torch.float32)
    if ddp.active() and ddp.rank() == 0:  # the other ranks train the same model with us
        ddp.submit("counting_train:follow", {"params": p, "seed": ctx.seed, "x": x, "y": y})
    ckpt = ctx.checkpointer("train", every_n_steps=int(p["checkpoint_every"]))
    loop_started = time.perf_counter()
    try:
        model, end = counting_train.fit(
            x, y, p, ctx.seed, ctx.device, ckpt=ckpt, should_stop=ctx.should_stop,
            progress=ctx.progress(steps, "train"), log=ctx.log,
        )  # fmt: skip
    finally:
        _finish_writes(ckpt)
    loop_s = time.perf_counter() - loop_started
    if end["stopped"]:
        ctx.set_summary(done=end["step"], total=steps)
        return

    device = torch.device(ctx.device)
    buf = io.BytesIO()  # in memory: torch.save names the archive after a file's name
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(ctx.base_dir / "out" / "model.pt", buf.getvalue())
    model.eval()
    with torch.no_grad():
        err = model(x.to(device)) - y.to(device)
        mse = float((err * err).mean())
    atomic_write_json(
        ctx.base_dir / "out" / "train_metrics.json",
        {"steps": steps, "epochs_started": end["epoch"] + 1, "train_mse": mse},
    )
    # time spent checkpointing vs. the training loop (the benchmark reports the overhead)
    saves, save_s = getattr(ckpt, "saves", 0), getattr(ckpt, "save_seconds", 0.0)
    ctx.set_summary(
        steps=steps, train_mse=round(mse, 6), loop_s=loop_s, checkpoints=saves, checkpoint_s=save_s
    )


def _finish_writes(ckpt: Any) -> None:
    """Wait for the background checkpoint write (emits its ``checkpoint_saved``)."""
    wait = getattr(ckpt, "wait", None)
    if wait is not None:
        wait()


# --------------------------------------------------------------------------- the pipeline
def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """The pipeline described by ``pipeline.toml`` with ``--set`` overrides applied."""
    from standard_coder.config.schema import apply_overrides
    from standard_coder.runner.commandfile import check_overrides

    config_path = Path(config_path).resolve()
    with config_path.open("rb") as fh:
        data = tomllib.load(fh)
    # the runner knows its own sections' keys; [training] distributed is this pipeline's own
    runner_sets = [o for o in overrides if o.split("=", 1)[0].strip() != "training.distributed"]
    check_overrides(data, runner_sets, config_path)
    data = apply_overrides(copy.deepcopy(data), list(overrides))
    for key in data:
        if key not in TOP_KEYS:
            raise PipelineDefinitionError(f"{config_path}: {key}: unknown key")
    params = data.get("params", {})
    for section, allowed in PARAM_KEYS.items():
        given = set(params.get(section, {}))
        if given != allowed:
            raise PipelineDefinitionError(
                f"{config_path}: params.{section}: expected keys {sorted(allowed)}, "
                f"got {sorted(given)}"
            )
    training = data.get("training", {})
    if not isinstance(training, dict) or set(training) - {"distributed"}:
        raise PipelineDefinitionError(f"{config_path}: training: expected only key distributed")
    distributed = training.get("distributed", "none")
    if distributed not in ("none", "ddp"):
        raise PipelineDefinitionError(
            f'{config_path}: training.distributed: expected "none" or "ddp" (got {distributed!r})'
        )
    train_params = dict(params["train"])
    if distributed == "ddp":  # "none" stays out, so single-process runs keep their fingerprint
        train_params["distributed"] = "ddp"
    runner = data.get("runner", {})
    base = (config_path.parent / data.get("outputs", {}).get("base_dir", "sc-output")).resolve()
    out = base / "out"
    count = Stage(
        name="count",
        run=count_items,
        params=params["count"],
        outputs=(out / "counts.jsonl", out / "counts_summary.json"),
        code_files=CODE_FILES,
        description="process work items through the ledger",
    )
    train = Stage(
        name="train",
        run=train_model,
        deps=("count",),
        params=train_params,
        outputs=(out / "model.pt", out / "train_metrics.json"),
        code_files=CODE_FILES,
        device_sensitive=True,
        description="train a small model with exact checkpoints",
    )
    return Pipeline(
        name=str(data.get("pipeline", {}).get("name", "counting")),
        stages=(count, train),
        base_dir=base,
        seed=int(runner.get("seed", 0)),
        device=str(runner.get("device", "cpu")),
        workers=int(runner.get("workers", 1)),
        config=data,
        distributed=(
            DistributedTraining('[training] distributed = "ddp"') if distributed == "ddp" else None
        ),
    )
