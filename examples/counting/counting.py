"""The counting example pipeline: ``count`` (items through the ledger) -> ``train`` (a small
torch model with exact checkpoints). Built by ``build(config_path, overrides)``.

Read it as the template for a resumable stage:

* ``count``: list the items, skip those the ledger has under the same key, ``ctx.map`` the
  rest, record each result in the parent, and write the outputs only once every item is done.
* ``train``: one loop in nanoGPT's shape; the whole training state is one dict, saved every
  ``checkpoint_every`` steps and when ``ctx.should_stop()`` turns true, restored exactly.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from standard_coder.runner.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from standard_coder.runner.context import StageContext
from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.stage import Pipeline, Stage

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pool workers import counting_work by name
    sys.path.insert(0, str(HERE))

import counting_work  # noqa: E402

CODE_FILES = (HERE / "counting.py", HERE / "counting_work.py")
TOP_KEYS = {"pipeline", "outputs", "runner", "params"}
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
    """Train a small MLP (dropout, shuffled batches) with exact, resumable checkpoints."""
    import torch
    from torch import nn

    from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
    from standard_coder.runner.seeding import seed_everything, torch_generator

    p = ctx.params
    steps, bs = int(p["steps"]), int(p["batch_size"])
    torch.set_num_threads(1)  # bitwise-reproducible float sums on CPU
    text = (ctx.base_dir / "out" / "counts.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines() if line]
    bits = [[(int(r["digest"], 16) >> k) & 1 for k in range(16)] for r in rows]
    x = torch.tensor(bits, dtype=torch.float32)
    y = torch.tensor([[r["value"] / 1000.0] for r in rows], dtype=torch.float32)
    n = len(rows)

    seed_everything(ctx.seed)
    device = torch.device(ctx.device)
    model = nn.Sequential(
        nn.Linear(16, int(p["hidden"])),
        nn.ReLU(),
        nn.Dropout(float(p["dropout"])),
        nn.Linear(int(p["hidden"]), 1),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(p["lr"]))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 3), gamma=0.5)
    gen = torch_generator(ctx.seed)  # the sampler's generator: part of the checkpoint
    ckpt = ctx.checkpointer("train", every_n_steps=int(p["checkpoint_every"]))

    step, epoch, pos = 0, 0, 0
    perm = torch.randperm(n, generator=gen)
    state = ckpt.load_latest()
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch, pos, perm = state["step"], state["epoch"], state["pos"], state["perm"]
        restore_rng_state(state["rng"], generators={"sampler": gen})
        ctx.log.info("resuming training at step %d/%d", step, steps)

    def checkpoint() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "epoch": epoch,
            "pos": pos,
            "perm": perm,
            "rng": capture_rng_state(generators={"sampler": gen}),
            "config": dict(p),
        }

    bar = ctx.progress(steps, "train")
    bar.update(completed=step)
    model.train()
    loss = torch.tensor(float("nan"))
    while step < steps:
        if ctx.should_stop():
            ckpt.save(checkpoint(), step)
            ctx.set_summary(done=step, total=steps)
            return
        if pos >= n:
            epoch, pos = epoch + 1, 0
            perm = torch.randperm(n, generator=gen)
        idx = perm[pos : pos + bs]
        pos += bs
        counting_work.delay(counting_work.STEP_DELAY_ENV)
        loss = nn.functional.mse_loss(model(x[idx].to(device)), y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        counting_work.trace(f"step {step}")
        bar.advance()
        if ckpt.due(step):
            ckpt.save(checkpoint(), step)

    buf = io.BytesIO()  # in memory: torch.save names the archive after a file's name
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(ctx.base_dir / "out" / "model.pt", buf.getvalue())
    model.eval()
    with torch.no_grad():
        mse = nn.functional.mse_loss(model(x.to(device)), y.to(device)).item()
    atomic_write_json(
        ctx.base_dir / "out" / "train_metrics.json",
        {"steps": steps, "epochs_started": epoch + 1, "train_mse": mse},
    )
    ctx.set_summary(steps=steps, train_mse=round(mse, 6))


# --------------------------------------------------------------------------- the pipeline
def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """The pipeline described by ``pipeline.toml`` with ``--set`` overrides applied."""
    from standard_coder.config.schema import apply_overrides
    from standard_coder.runner.commandfile import check_overrides

    config_path = Path(config_path).resolve()
    with config_path.open("rb") as fh:
        data = tomllib.load(fh)
    check_overrides(data, overrides, config_path)
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
        params=params["train"],
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
    )
