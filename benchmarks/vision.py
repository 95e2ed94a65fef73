"""Images/s of the vision training loop against a plain ``DataLoader`` loop on the same model.

Both train the same model on scikit-learn's digits (8x8, in memory) for the same number of
steps and batch size on CPU: (a) :func:`standard_coder.vision.train.train` (seeded index
sampling from tensors, LR schedule, TensorBoard scalars every 10 steps, no checkpoints);
(b) the textbook loop over ``DataLoader(TensorDataset, shuffle=True)`` (same optimizer and
gradient clip). One intra-op thread for both (what the vision loop uses on CPU).

    PYTHONPATH=src python benchmarks/vision.py [--steps 1000] [--model cnn]

Last line: JSON with samples_per_s, dataloader_samples_per_s, steps, batch_size, model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from standard_coder.vision.data import ImageSplit
from standard_coder.vision.models import build_model
from standard_coder.vision.train import TrainOptions, train


def digits() -> ImageSplit:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    labels = torch.tensor(d.target, dtype=torch.int64)
    return ImageSplit(images, labels, [f"{i}" for i in range(len(labels))], list("0123456789"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--model", default="cnn", choices=["cnn", "testing"])
    args = ap.parse_args()
    data = digits()
    torch.set_num_threads(1)
    warm = build_model(args.model, img_size=8, channels=1, num_classes=10)  # first-call costs
    F.cross_entropy(warm(data.images[:64]), data.labels[:64]).backward()
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (import outside the timing)

    torch.manual_seed(0)
    model = build_model(args.model, img_size=8, channels=1, num_classes=10)
    opts = TrainOptions(num_steps=args.steps, eval_every=10**9, train_batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tb:
        t0 = time.perf_counter()
        train(model, data, None, opts, device="cpu", tb_dir=Path(tb))
        ours = time.perf_counter() - t0

    torch.manual_seed(0)
    model = build_model(args.model, img_size=8, channels=1, num_classes=10)
    opt = torch.optim.AdamW(model.parameters(), lr=opts.learning_rate)
    loader = DataLoader(
        TensorDataset(data.images, data.labels), batch_size=args.batch_size, shuffle=True
    )
    step = 0
    t0 = time.perf_counter()
    while step < args.steps:
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            opt.step()
            step += 1
            if step == args.steps:
                break
    plain = time.perf_counter() - t0
    n = args.steps * args.batch_size
    ratio = plain / ours
    print(f"{'loop':<34} {'samples/s':>10}")
    print(f"{'standard-coder vision train()':<34} {n / ours:>10.0f}")
    print(f"{'plain DataLoader loop':<34} {n / plain:>10.0f}")
    print(f"ratio (ours / DataLoader): {ratio:.2f}x")
    print(
        json.dumps(
            {
                "samples_per_s": round(n / ours, 1),
                "dataloader_samples_per_s": round(n / plain, 1),
                "ratio": round(ratio, 3),
                "steps": args.steps,
                "batch_size": args.batch_size,
                "model": args.model,
            }
        )
    )


if __name__ == "__main__":
    main()
