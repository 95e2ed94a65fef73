"""Image datasets as in-memory tensors with a file per image.

Two sources:

* ``digits``: scikit-learn's shipped handwritten digits (1,797 real 8x8 scans, no download).
  :func:`materialize_digits` writes each image as a PNG so predictions can name a ``filepath``
  (FiftyOne imports samples by file).
* ``flowers-102``: the Oxford Flowers-102 layout as distributed (``jpg/image_00001.jpg``...,
  ``imagelabels.mat`` with ``labels`` 1..102, ``setid.mat`` with ``trnid``/``valid``/``tstid``);
  read with :func:`read_flowers102` for users who have it (never downloaded here).

Both end up as an ``index.json`` (one row per image: ``filepath``, ``label``, ``split``) plus
``labels`` (class names), which :func:`load_split` turns into tensors of one image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from standard_coder.runner.jsonfile import read_json_object

INDEX_FILE = "index.json"
SPLITS = ("train", "val", "test")


class DatasetError(ValueError):
    """A dataset folder is missing a file or has the wrong form; the message names the path.
    Bad input: a stage that raises it fails with exit 2 and this one line (no traceback
    pointer)."""

    exit_code = 2


@dataclass(frozen=True)
class ImageSplit:
    """One split in memory.

    Attributes:
        images: float32 ``(N, C, H, W)`` in ``[0, 1]``.
        labels: int64 ``(N,)`` class indices.
        filepaths: absolute image paths, one per row.
        label_names: class names by index.
    """

    images: torch.Tensor
    labels: torch.Tensor
    filepaths: list[str]
    label_names: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None) -> ImageSplit:
        """The first ``n`` rows (``None``: all)."""
        if n is None or n >= len(self):
            return self
        return ImageSplit(self.images[:n], self.labels[:n], self.filepaths[:n], self.label_names)


def _split_ids(n: int, val_fraction: float, test_fraction: float, seed: int) -> list[str]:
    """A seeded split assignment per row (``train``/``val``/``test``)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    split = ["train"] * n
    for i in order[:n_test]:
        split[int(i)] = "test"
    for i in order[n_test : n_test + n_val]:
        split[int(i)] = "val"
    return split


def materialize_digits(
    out_dir: Path, *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Any]:
    """Write scikit-learn's digits as ``images/<n>.png`` plus ``index.json``; returns the index.

    The split is seeded and stratification-free (1,797 images, ten balanced classes).
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    from standard_coder.runner.atomic import atomic_write_json

    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float64)  # (N, 8, 8), values 0..16
    targets = np.asarray(digits.target, dtype=np.int64)
    split = _split_ids(len(targets), val_fraction, test_fraction, seed)
    img_dir = out_dir / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (img, label) in enumerate(zip(images, targets, strict=True)):
        path = img_dir / f"{i:05d}.png"
        pixels = np.clip(img * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(path)
        rows.append({"filepath": str(path), "label": int(label), "split": split[i]})
    index = {"dataset": "digits", "labels": [str(d) for d in range(10)], "images": rows}
    atomic_write_json(out_dir / INDEX_FILE, index)
    return index


def _loadmat(path: Path) -> dict[str, Any]:
    try:
        from scipy.io import loadmat
    except ImportError:  # pragma: no cover - scipy is a base dependency
        raise DatasetError(f"{path}: reading .mat files needs scipy") from None
    if not path.is_file():
        raise DatasetError(f"{path}: missing (expected the Flowers-102 layout)")
    try:
        return dict(loadmat(str(path)))
    except Exception as exc:  # scipy's reader raises many types for a damaged file
        raise DatasetError(
            f"{path}: not a readable .mat file ({str(exc) or type(exc).__name__}); fetch it again"
        ) from None


def _mat_vector(mat: dict[str, Any], key: str, path: Path) -> np.ndarray:
    if key not in mat:
        raise DatasetError(f"{path}: no variable {key!r}")
    return np.asarray(mat[key]).astype(np.int64).ravel()


def read_flowers102(root: Path, label_names: list[str] | None = None) -> dict[str, Any]:
    """Index the Oxford Flowers-102 layout under ``root`` (no copy of the images).

    ``imagelabels.mat`` holds ``labels`` (1-based class of ``image_{i:05d}.jpg``); ``setid.mat``
    holds 1-based image ids ``trnid`` (train), ``valid`` (val) and ``tstid`` (test).

    An image that cannot be decoded (truncated, corrupt) is left out and listed under
    ``skipped`` (``{filepath, split, reason}``), for the caller to warn about.

    Raises:
        DatasetError: a file is missing, unreadable, or the ids/labels disagree; more than
            :data:`MAX_UNREADABLE` of the images, or every image of a split, cannot be decoded.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (data_dir: the Flowers-102 folder holding jpg/)")
    labels_path, setid_path = root / "imagelabels.mat", root / "setid.mat"
    labels = _mat_vector(_loadmat(labels_path), "labels", labels_path)
    setid = _loadmat(setid_path)
    n_classes = int(labels.max()) if labels.size else 0
    if labels.size == 0 or labels.min() < 1:
        raise DatasetError(f"{labels_path}: labels must be 1-based class ids")
    names = label_names or [f"class_{c:03d}" for c in range(1, n_classes + 1)]
    if len(names) < n_classes:
        raise DatasetError(f"{labels_path}: {n_classes} classes but {len(names)} label names")
    rows = []
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        for image_id in _mat_vector(setid, key, setid_path):
            if not 1 <= image_id <= labels.size:
                raise DatasetError(f"{setid_path}: {key} has image id {image_id} out of range")
            path = root / "jpg" / f"image_{image_id:05d}.jpg"
            if not path.is_file():
                raise DatasetError(f"{path}: missing (listed in {setid_path.name} {key})")
            rows.append(
                {"filepath": str(path), "label": int(labels[image_id - 1]) - 1, "split": split}
            )
    kept, skipped = _readable(rows)
    if len(skipped) > MAX_UNREADABLE * len(rows) or not {r["split"] for r in kept} >= {
        r["split"] for r in rows
    }:
        first = skipped[0]
        raise DatasetError(
            f"{root / 'jpg'}: {len(skipped)} of {len(rows)} images cannot be decoded (first: "
            f"{first['filepath']}: {first['reason']}); more than {MAX_UNREADABLE:.0%} or a whole "
            "split: is the folder complete?"
        )
    index = {"dataset": "flowers-102", "labels": names[:n_classes], "images": kept}
    return {**index, "skipped": skipped} if skipped else index


MAX_UNREADABLE = 0.1
"""Flowers-102 images that cannot be decoded are left out of the index with a warning; past
this fraction of the listed images (or when a split would be left empty) prepare fails."""


def unreadable(path: Path) -> str | None:
    """Why the image at ``path`` cannot be decoded (None: it can). Decodes at a reduced scale
    (JPEG draft mode), so a truncated or corrupt file is found at a fraction of a full decode."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (32, 32))
            im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _readable(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """``rows`` split into those whose image decodes and ``{filepath, split, reason}`` of the
    others."""
    kept, skipped = [], []
    for row in rows:
        reason = unreadable(Path(row["filepath"]))
        if reason is None:
            kept.append(row)
        else:
            skipped.append({"filepath": row["filepath"], "split": row["split"], "reason": reason})
    return kept, skipped


def read_index(path: Path) -> dict[str, Any]:
    """Read an ``index.json`` written by :func:`materialize_digits` or the prepare stage."""
    doc = read_json_object(path, DatasetError, "image index")
    if not isinstance(doc.get("images"), list):
        raise DatasetError(f"{path}: expected an object with 'images' and 'labels'")
    return doc


def load_split(index: dict[str, Any], split: str, img_size: int, channels: int) -> ImageSplit:
    """Decode the images of ``split`` to ``(N, channels, img_size, img_size)`` floats in [0, 1]."""
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    rows = [r for r in index["images"] if r["split"] == split]
    arrays = []
    for r in rows:
        with Image.open(r["filepath"]) as raw:
            im = raw.convert(mode)
        if im.size != (img_size, img_size):
            im = im.resize((img_size, img_size), Image.Resampling.BILINEAR)
        arr = np.asarray(im, dtype=np.float32) / 255.0
        arrays.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
    images = (
        torch.from_numpy(np.stack(arrays))
        if arrays
        else torch.zeros((0, channels, img_size, img_size))
    )
    labels = torch.tensor([int(r["label"]) for r in rows], dtype=torch.int64)
    return ImageSplit(images, labels, [str(r["filepath"]) for r in rows], list(index["labels"]))
