"""Three tiny stage commands for the example command pipeline.

Each reads its params from ``SC_PARAMS_JSON`` (set by the runner) and writes its output
atomically (temp file + rename), so an interrupted stage leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def _write(path: str, obj: object) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out)


def prepare(data_dir: str, out: str) -> None:
    """List every file of ``data_dir`` with its size and sha256."""
    files = {}
    for path in sorted(Path(data_dir).rglob("*")):
        if path.is_file():
            blob = path.read_bytes()
            files[path.relative_to(data_dir).as_posix()] = {
                "size": len(blob),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
    _write(out, {"files": files})


def featurize(prepared: str, out: str) -> None:
    """Per file: the first ``k`` hex digits of its digest as integer features."""
    k = int(json.loads(os.environ.get("SC_PARAMS_JSON", "{}")).get("featurize.k", 3))
    files = json.loads(Path(prepared).read_text())["files"]
    feats = {name: [int(c, 16) for c in meta["sha256"][:k]] for name, meta in files.items()}
    _write(out, {"k": k, "features": feats})


def train(features: str, out: str) -> None:
    """A 'model': per-feature means after ``epochs`` passes (deterministic)."""
    params = json.loads(os.environ.get("SC_PARAMS_JSON", "{}"))
    epochs = int(params.get("train.epochs", 1))
    lr = float(params.get("train.lr", 0.1))
    feats = list(json.loads(Path(features).read_text())["features"].values())
    width = max((len(f) for f in feats), default=0)
    weights = [0.0] * width
    for _ in range(epochs):
        for row in feats:
            for i, x in enumerate(row):
                weights[i] += lr * (x - weights[i])
    _write(out, {"epochs": epochs, "lr": lr, "weights": weights})


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"prepare": prepare, "featurize": featurize, "train": train}[command](*args)
