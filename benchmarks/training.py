"""MDN training throughput: our index-batched loop vs a DataLoader(TensorDataset) loop.

Same model (paper MDN: 20 components, 256-64-64-64-64), same batch size (1024), same AdamW, in
one process. The dataset is synthetic (effort drives token content): 20,000 commits with 200
label samples each, token representation. Our loop keeps ``X`` (commits x features) and ``Y``
(commits x samples) as tensors and gathers a batch by index: by default 128 commits x 8 samples
= 1,024 (commit, sample) pairs, so the network runs once per drawn commit (``k=1``, 1,024
independent pairs, is shown too). The DataLoader loop needs one row per (commit, sample) pair,
i.e. features replicated 200 times, shuffled and collated per item.

Where the machine has an accelerator (CUDA or MPS), the same loop is also timed on it and on
the CPU at batch sizes 1,024, 8,192 and 65,536 pairs (data resident on each device), with the
accelerator / CPU ratio per batch size and where ``device = "auto"`` would train that step
(``sch/predictors/placement.py``): issue 22's GPU target, measured in the same run. Without an
accelerator the table says so and the JSON's ``accelerator`` is null.

Usage: ``PYTHONPATH=src python benchmarks/training.py [--quick] [--device cpu]``.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from standard_coder.runner.device import resolve_device
from standard_coder.sch.dataset import TEST, TRAIN, VAL, build_dataset
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.placement import GPU_MIN_STEP_FLOPS, rows_per_step, step_flops
from standard_coder.sch.predictors.train import (
    TrainOptions,
    cpu_threads_for_step,
    mean_loss,
    train_model,
)


def index_loop(
    model: MDN, X: torch.Tensor, Y: torch.Tensor, steps: int, batch: int, k: int = 8
) -> float:
    """Our loop (``train_model``, ``k`` samples per drawn commit): seconds for exactly ``steps``
    steps. An epoch of ``train_model`` is at most every commit once (``n * k / batch`` steps),
    so the steps are cut into the fewest equal epochs that fit (no early stop: the validation
    split is empty and patience unlimited)."""
    per_epoch_max = max(1, math.ceil(X.shape[0] * max(1, min(k, Y.shape[1], batch)) / batch))
    per = max(d for d in range(1, min(steps, per_epoch_max) + 1) if steps % d == 0)
    opts = TrainOptions(epochs=steps // per, batch_size=batch, max_steps_per_epoch=per,
                        grad_clip=5.0, samples_per_commit=k,
                        early_stopping_patience=10**9)  # fmt: skip
    empty = X[:0]
    t = time.perf_counter()
    res = train_model(model, X, Y, empty, Y[:0], options=opts, seed=0)
    seconds = time.perf_counter() - t
    if res.steps != steps:
        raise RuntimeError(f"the loop ran {res.steps} steps, not {steps}")
    return seconds


def dataloader_loop(model: MDN, X: torch.Tensor, Y: torch.Tensor, steps: int, batch: int) -> float:
    """A conventional loop: replicated rows in a TensorDataset, shuffled DataLoader."""
    from torch.utils.data import DataLoader, TensorDataset

    _n, s = Y.shape
    ds = TensorDataset(X.repeat_interleave(s, dim=0), Y.reshape(-1))
    dl = DataLoader(ds, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    t = time.perf_counter()
    done = 0
    for xb, yb in dl:
        loss = model.loss(xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        done += 1
        if done >= steps:
            break
    if done != steps:
        raise RuntimeError(f"the DataLoader ran out after {done} steps, not {steps}")
    return time.perf_counter() - t


ACCEL_BATCHES = (1024, 8192, 65536)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _loop_seconds(cfg: MDNConfig, X: torch.Tensor, Y: torch.Tensor, steps: int, batch: int,
                  dev: torch.device) -> float:  # fmt: skip
    """Seconds of ``steps`` steps of our loop on ``dev`` alone: a call of ``FIXED_STEPS + steps``
    minus one of ``FIXED_STEPS`` (each the best of two), so the per-call costs (the data
    digest, optimiser set-up) do not dilute the per-step rate."""

    def best_of_two(n: int) -> float:
        times = []
        for _ in range(2):
            torch.manual_seed(0)
            model = MDN(cfg).to(dev)
            _sync(dev)
            t = time.perf_counter()
            index_loop(model, X, Y, n, batch)
            _sync(dev)
            times.append(time.perf_counter() - t)
        return min(times)

    return max(best_of_two(FIXED_STEPS + steps) - best_of_two(FIXED_STEPS), 1e-9)


FIXED_STEPS = 5


def accelerator_table(
    cfg: MDNConfig, X: torch.Tensor, Y: torch.Tensor, steps: int, acc: torch.device
) -> dict:
    """Samples/s of our loop on the accelerator ``acc`` and on the CPU at each of
    ``ACCEL_BATCHES`` (per-step time after a warm-up, :func:`_loop_seconds`), their ratio, the
    CPU threads the loop used (one for a small step: ``train.cpu_threads_for_step``) and where
    ``auto`` places that step."""
    cpu = torch.device("cpu")
    roles = {"accelerator": acc, "cpu": cpu}
    data = {role: (X.to(d), Y.to(d)) for role, d in roles.items()}
    threads = torch.get_num_threads()
    rows: list[dict] = []
    for batch in ACCEL_BATCHES:
        sps: dict[str, float] = {}
        for role, d in roles.items():
            xd, yd = data[role]
            index_loop(MDN(cfg).to(d), xd, yd, 3, batch)  # warm-up (kernels, allocator)
            sps[role] = steps * batch / _loop_seconds(cfg, xd, yd, steps, batch, d)
        flops = step_flops(MDN(cfg), rows_per_step(batch, 8, Y.shape[1]))
        where = acc.type if flops >= GPU_MIN_STEP_FLOPS else "cpu"
        with cpu_threads_for_step(MDN(cfg), rows_per_step(batch, 8, Y.shape[1]), cpu) as used:
            cpu_threads = used  # what the CPU loop ran on (train's own rule, not a copy)
        rows.append({"batch_size": batch, "accelerator_samples_per_s": round(sps["accelerator"]),
                     "cpu_samples_per_s": round(sps["cpu"]), "cpu_threads": cpu_threads,
                     "ratio": round(sps["accelerator"] / sps["cpu"], 2),
                     "step_mflop": round(flops / 1e6, 1), "auto_trains_on": where})  # fmt: skip
    name = str(acc)
    print(f"{name} vs cpu, our loop, k=8, data on each device, per-step rates")
    print(f"{'batch':>7s} {name + ' samples/s':>18s} {'cpu samples/s':>14s} {'threads':>7s} "
          f"{'ratio':>6s} {'MFLOP/step':>10s} {'auto trains on':>14s}")  # fmt: skip
    for r in rows:
        print(f"{r['batch_size']:7d} {r['accelerator_samples_per_s']:18,d} "
              f"{r['cpu_samples_per_s']:14,d} {r['cpu_threads']:7d} {r['ratio']:6.2f} "
              f"{r['step_mflop']:10.1f} {r['auto_trains_on']:>14s}")  # fmt: skip
    return {"device": name, "cpu_threads": threads, "batches": rows,
            "best_ratio": max(r["ratio"] for r in rows)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    n, s, steps, epochs = (2000, 50, 40, 2) if a.quick else (20000, 200, 300, 3)
    batch = 1024
    t0 = time.perf_counter()
    syn = synthetic_changes(n, n_samples=s, with_contents=False, seed=0)
    ds, _ = build_dataset(syn.commits, (syn.keys, syn.samples), representation="tokens",
                          top_n_identifiers=64)  # fmt: skip
    prep_s = time.perf_counter() - t0
    dev = torch.device(a.device)
    tr, va, te = ds.index(TRAIN), ds.index(VAL), ds.index(TEST)
    X = torch.as_tensor(ds.X[tr], device=dev)
    Y = torch.as_tensor(ds.Y[tr], device=dev)
    cfg = MDNConfig(n_features=ds.X.shape[1])

    # warm-up (lazy kernel/allocator init), then alternate the two loops and keep the best
    index_loop(MDN(cfg).to(dev), X, Y, 5, batch)
    dataloader_loop(MDN(cfg).to(dev), X, Y, 5, batch)
    ours_t, pairs_t, dl_t = [], [], []
    for _ in range(2):
        torch.manual_seed(0)
        ours_t.append(index_loop(MDN(cfg).to(dev), X, Y, steps, batch, k=8))
        torch.manual_seed(0)
        pairs_t.append(index_loop(MDN(cfg).to(dev), X, Y, steps, batch, k=1))
        torch.manual_seed(0)
        dl_t.append(dataloader_loop(MDN(cfg).to(dev), X, Y, steps, batch))
    ours, pairs, dl = min(ours_t), min(pairs_t), min(dl_t)
    sps, pairs_sps, dl_sps = steps * batch / ours, steps * batch / pairs, steps * batch / dl

    # a real (budgeted) fit for held-out NLL: ``epochs`` epochs of 1,000 steps, early stopping
    torch.manual_seed(0)
    model = MDN(cfg).to(dev)
    t = time.perf_counter()
    res = train_model(model, X, Y, torch.as_tensor(ds.X[va], device=dev),
                      torch.as_tensor(ds.Y[va], device=dev),
                      options=TrainOptions(epochs=epochs, batch_size=batch,
                                           max_steps_per_epoch=1000), seed=0)  # fmt: skip
    fit_s = time.perf_counter() - t
    nll = mean_loss(model, torch.as_tensor(ds.X[te], device=dev),
                    torch.as_tensor(ds.Y[te], device=dev))  # fmt: skip

    best, _ = resolve_device("auto")
    accel = None
    if best == "cpu":
        print("no accelerator on this machine: the GPU / CPU ratio is not measured here")
    else:
        accel = accelerator_table(cfg, X.cpu(), Y.cpu(), 20 if a.quick else 60, torch.device(best))

    idx_bytes = (X.numel() + Y.numel()) * 4
    dl_bytes = (X.shape[0] * Y.shape[1] * (X.shape[1] + 1)) * 4
    rows = [("index-batched, k=8 (default)", sps, ours, idx_bytes),
            ("index-batched, k=1 pairs", pairs_sps, pairs, idx_bytes),
            ("DataLoader(TensorDataset)", dl_sps, dl, dl_bytes)]  # fmt: skip
    print(f"MDN {cfg.components} comps, hidden {cfg.hidden}, {ds.X.shape[1]} features, "
          f"{n} commits x {s} samples, batch {batch}, {steps} steps, device {a.device}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    print(f"{'loop':30s} {'samples/s':>12s} {'seconds':>8s} {'train data MB':>14s}")
    for name, v, sec, nbytes in rows:
        print(f"{name:30s} {v:12,.0f} {sec:8.2f} {nbytes / 1e6:14.1f}")
    print(f"speed-up {sps / dl_sps:.2f}x; data prep {prep_s:.1f} s; fit {res.steps} steps in "
          f"{fit_s:.1f} s; held-out NLL {nll:.3f}")  # fmt: skip
    print(json.dumps({
        "samples_per_s": round(sps), "dataloader_samples_per_s": round(dl_sps),
        "pairs_k1_samples_per_s": round(pairs_sps),
        "speedup": round(sps / dl_sps, 2), "heldout_nll": round(nll, 4),
        "n_commits": n, "n_samples": s, "batch_size": batch, "steps": steps,
        "n_features": int(ds.X.shape[1]), "device": a.device, "fit_steps": res.steps,
        "fit_seconds": round(fit_s, 1), "quick": a.quick,
        "train_data_mb": round(idx_bytes / 1e6, 1),
        "dataloader_train_data_mb": round(dl_bytes / 1e6, 1),
        "torch_threads": torch.get_num_threads(), "accelerator": accel,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
