"""Vision domain pieces: the Flowers-102 reader, labelmap checksum, config and template, models."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.paramcheck import stages_whose_params_change

from proctools import child_env
from standard_coder.config import ConfigError
from standard_coder.config.template import render_template
from standard_coder.config.vision import validate_vision_config
from standard_coder.vision.data import DatasetError, load_split, read_flowers102, read_index
from standard_coder.vision.models import build_model, n_parameters
from standard_coder.vision.predictions import LabelmapError, load_labelmap, write_predictions
from standard_coder.vision.train import TrainOptions, lr_at

scipy_io = pytest.importorskip("scipy.io", reason="the Flowers-102 .mat files need scipy")


def fabricate_flowers(root: Path, n: int = 12) -> None:
    """The Oxford Flowers-102 layout: jpg/image_%05d.jpg, imagelabels.mat, setid.mat."""
    from PIL import Image

    (root / "jpg").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels, mode="RGB").save(root / "jpg" / f"image_{i:05d}.jpg")
    labels = np.array([[1 + (i % 3) for i in range(n)]])  # 1-based, shape (1, n) as shipped
    scipy_io.savemat(str(root / "imagelabels.mat"), {"labels": labels})
    ids = np.arange(1, n + 1)
    scipy_io.savemat(
        str(root / "setid.mat"),
        {"trnid": ids[None, :6], "valid": ids[None, 6:9], "tstid": ids[None, 9:]},
    )


def test_flowers102_reader_on_the_real_layout(tmp_path: Path) -> None:
    fabricate_flowers(tmp_path)
    index = read_flowers102(tmp_path)
    assert index["labels"] == ["class_001", "class_002", "class_003"]
    splits = [r["split"] for r in index["images"]]
    assert splits.count("train") == 6 and splits.count("val") == 3 and splits.count("test") == 3
    first = index["images"][0]
    assert (
        first["filepath"].endswith("jpg/image_00001.jpg") and first["label"] == 0
    )  # 1-based in the .mat
    test = load_split(index, "test", img_size=8, channels=3)
    assert test.images.shape == (3, 3, 8, 8) and test.labels.tolist() == [0, 1, 2]
    assert float(test.images.min()) >= 0 and float(test.images.max()) <= 1


def test_flowers102_reader_names_what_is_missing(tmp_path: Path) -> None:
    fabricate_flowers(tmp_path)
    (tmp_path / "jpg" / "image_00010.jpg").unlink()
    with pytest.raises(
        DatasetError, match=r"image_00010\.jpg: missing \(listed in setid.mat tstid"
    ):
        read_flowers102(tmp_path)
    (tmp_path / "setid.mat").unlink()
    with pytest.raises(DatasetError, match=r"setid\.mat: missing"):
        read_flowers102(tmp_path)
    with pytest.raises(DatasetError, match=r"imagelabels\.mat: not a folder \(data_dir"):
        read_flowers102(tmp_path / "imagelabels.mat")  # a file given as the folder


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_flowers102_reader_names_a_damaged_mat_file(tmp_path: Path, damage: str) -> None:
    """A garbage ``imagelabels.mat`` failed as ``MatReadError: Mat file appears to be
    truncated``, a cut ``setid.mat`` as ``IndexError: index out of range``, exit 1, neither
    naming the file."""
    fabricate_flowers(tmp_path)
    name = "imagelabels.mat" if damage == "garbage" else "setid.mat"
    path = tmp_path / name
    path.write_bytes(b"not a mat file\n" if damage == "garbage" else path.read_bytes()[:100])
    with pytest.raises(DatasetError) as err:
        read_flowers102(tmp_path)
    assert str(err.value).startswith(f"{path}: not a readable .mat file (")
    assert str(err.value).endswith("; fetch it again")


def test_flowers102_reader_leaves_out_an_unreadable_image_and_fails_past_a_tenth(
    tmp_path: Path,
) -> None:
    """A truncated JPEG is left out of the index and named under ``skipped`` (training never
    meets it); two of twelve (over 10%) fail prepare with one line naming the first."""
    fabricate_flowers(tmp_path)
    bad = tmp_path / "jpg" / "image_00002.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # cut short
    index = read_flowers102(tmp_path)
    assert len(index["images"]) == 11 and str(bad) not in [r["filepath"] for r in index["images"]]
    (skipped,) = index["skipped"]
    assert skipped["filepath"] == str(bad) and skipped["split"] == "train" and skipped["reason"]
    assert load_split(index, "train", img_size=8, channels=3).images.shape[0] == 5
    (tmp_path / "jpg" / "image_00011.jpg").write_text("not a jpeg")
    with pytest.raises(DatasetError) as exc:
        read_flowers102(tmp_path)
    (line,) = str(exc.value).splitlines()
    assert line.startswith(f"{tmp_path / 'jpg'}: 2 of 12 images cannot be decoded (first: {bad}: ")


def test_labelmap_checksum_is_checked_on_load(tmp_path: Path) -> None:
    write_predictions(tmp_path, [], ["cat", "dog"])
    assert load_labelmap(tmp_path / "labelmap.json") == ["cat", "dog"]
    path = tmp_path / "labelmap.json"
    path.write_text(path.read_text().replace('"dog"', '"wolf"'))
    with pytest.raises(LabelmapError, match="sha256 does not match"):
        load_labelmap(path)


def test_a_bad_index_or_labelmap_file_is_one_line_naming_it(tmp_path: Path) -> None:
    index, labelmap = tmp_path / "index.json", tmp_path / "labelmap.json"
    with pytest.raises(DatasetError, match=r"index\.json: missing \(image index file not found\)"):
        read_index(index)
    index.write_text('{"images": [')
    with pytest.raises(DatasetError, match=r"index\.json: not valid JSON \(it ends too early\)$"):
        read_index(index)
    index.write_text("[]")
    with pytest.raises(DatasetError, match="the image index file is a JSON array, not an object"):
        read_index(index)
    labelmap.mkdir()
    with pytest.raises(LabelmapError, match=r"labelmap\.json: is a folder, expected a label map"):
        load_labelmap(labelmap)


def test_vision_template_round_trips_and_validates(tmp_path: Path) -> None:
    text = render_template("vision.toml", "vision")
    data = tomllib.loads(text)
    assert data["pipeline"]["name"] == "vision"
    for key in ("tiny_train_subset", "tiny_infer_subset", "prefer_mps", "num_steps", "img_size"):
        assert f"{key} =" in text
    cfg = validate_vision_config(data, tmp_path / "vision.toml")
    assert cfg.vision.model_type == "testing" and cfg.vision.dataset == "digits"


def test_vision_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"vision\.num_step: unknown key; did you mean 'num_steps'"
    ):
        validate_vision_config({"vision": {"num_step": 3}}, tmp_path / "p.toml")
    with pytest.raises(ConfigError, match="needs data_dir"):
        validate_vision_config({"vision": {"dataset": "flowers-102"}}, tmp_path / "p.toml")


def test_models_are_small_and_train_shapes() -> None:
    for kind in ("testing", "cnn"):
        model = build_model(kind, img_size=8, channels=1, num_classes=10)
        assert n_parameters(model) < 12_000
        out = model(torch.rand(3, 1, 8, 8))
        out.sum().backward()  # a backward pass works
        assert out.shape == (3, 10)


def test_lr_schedule_warms_up_then_decays() -> None:
    opts = TrainOptions(num_steps=100, warmup_steps=10, learning_rate=1.0)
    assert lr_at(0, opts) == pytest.approx(0.1) and lr_at(9, opts) == pytest.approx(1.0)
    assert lr_at(55, opts) == pytest.approx(0.5) and lr_at(100, opts) == pytest.approx(0.0)


def _stamp(folder: Path) -> dict[str, object]:
    import json

    doc: dict[str, object] = json.loads((folder / "env_stamp.json").read_text())
    return doc


def test_a_run_record_is_closed_with_the_work_s_status(tmp_path: Path) -> None:
    """Each record leaves ``running`` when its work ends: completed, failed (an exception),
    interrupted (a stop request or Ctrl-C), with its end time and duration."""
    from standard_coder.vision.records import run_record

    def record(name: str):  # type: ignore[no-untyped-def]
        return run_record(tmp_path / name, run_id=name, kind="train", config={"x": 1},
                          seed=0, device="cpu", retention_days=90)  # fmt: skip

    with record("ok"):
        assert _stamp(tmp_path / "ok")["status"] == "running"  # while the work runs
    with pytest.raises(RuntimeError), record("failed"):
        raise RuntimeError("boom")
    with record("stopped") as rec:
        rec.interrupted()
    with pytest.raises(KeyboardInterrupt), record("ctrl-c"):
        raise KeyboardInterrupt
    got = {name: _stamp(tmp_path / name) for name in ("ok", "failed", "stopped", "ctrl-c")}
    assert {k: s["status"] for k, s in got.items()} == {
        "ok": "completed", "failed": "failed", "stopped": "interrupted", "ctrl-c": "interrupted",
    }  # fmt: skip
    for stamp in got.values():
        assert stamp["ended_at"] and isinstance(stamp["duration_s"], float)
        assert stamp["ended_at"] >= stamp["started_at"]  # type: ignore[operator]


VISION_CHANGES = {
    # key=value -> the stages whose params change (their fingerprints: the others stay cached)
    "vision.retention_days=7": set(),  # the run records' TTL: no stage's result
    "vision.data_dir='elsewhere'": set(),  # digits read no folder
    "vision.val_fraction=0.2": {"prepare"},
    "vision.learning_rate=0.01": {"train"},
    "vision.checkpoint_every=7": set(),  # how often it saves: Stage.settings, rerunning nothing
    "vision.tiny_train_subset=10": {"train"},
    "vision.eval_batch_size=8": {"train", "evaluate"},  # train evaluates val with it
    "vision.img_size=16": {"train", "evaluate"},
    "runner.seed=5": {"prepare", "train"},  # the split and the training draw from it
}


@pytest.mark.parametrize("change", sorted(VISION_CHANGES))
def test_a_vision_key_changes_the_params_of_the_stages_that_read_it(
    tmp_path: Path, change: str
) -> None:
    from standard_coder.pipelines.vision import build

    config = tmp_path / "vision.toml"
    config.write_text('[pipeline]\nname = "vision"\n')
    assert stages_whose_params_change(build, config, change) == VISION_CHANGES[change]


def test_vision_stage_keys_name_every_key_but_the_records_ttl() -> None:
    """A new [vision] key must be given to the stages that read it (or it changes nothing)."""
    from standard_coder.config.vision import VisionSection
    from standard_coder.pipelines.vision import STAGE_KEYS

    named = {k for keys in STAGE_KEYS.values() for k in keys}
    # the records' TTL and the checkpoint cadence (train's Stage.settings) change no result
    assert set(VisionSection.model_fields) - named == {"retention_days", "checkpoint_every"}


def test_flowers_data_dir_is_in_every_vision_stage_s_params(tmp_path: Path) -> None:
    from standard_coder.pipelines.vision import build

    config = tmp_path / "vision.toml"
    config.write_text('[pipeline]\nname = "vision"\n[vision]\ndataset = "flowers-102"\n'
                      'data_dir = "flowers"\n')  # fmt: skip
    pipe = build(config, [])
    assert {s.name: s.params["vision"]["data_dir"] for s in pipe.stages} == dict.fromkeys(
        ("prepare", "train", "evaluate"), "flowers"
    )
    # Flowers-102's split is setid.mat's: the seed reruns training, not prepare
    reseeded = build(config, ["runner.seed=5"])
    assert [s.name for s, r in zip(pipe.stages, reseeded.stages, strict=True)
            if s.params != r.params] == ["train"]  # fmt: skip


def test_prepare_warns_naming_an_unreadable_flowers_image(tmp_path: Path) -> None:
    """Through the CLI: prepare succeeds, and the console names the file it left out."""
    import subprocess
    import sys

    fabricate_flowers(tmp_path / "flowers")
    bad = tmp_path / "flowers" / "jpg" / "image_00003.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    config = tmp_path / "vision.toml"
    config.write_text('[pipeline]\nname = "vision"\n[vision]\ndataset = "flowers-102"\n'
                      'data_dir = "flowers"\n')  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(config),
         "--stages", "prepare"],
        capture_output=True, text=True, env=child_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "WARNING" not in proc.stderr
    (line,) = [s for s in proc.stderr.splitlines() if "unreadable" in s]
    assert line.startswith(f"[warn] prepare: {tmp_path / 'flowers'}: 1 unreadable image(s) left "
                           f"out of the index, cannot be decoded: {bad} ("), line  # fmt: skip


@pytest.mark.parametrize("resumed", [None, 40])
def test_the_training_section_says_a_training_resumed_and_whose_time_it_shows(
    tmp_path: Path, resumed: int | None
) -> None:
    """As codeedit's table does: a training resumed from a checkpoint says from which step
    (its time is over all its runs, from the checkpoints); one that ran through says nothing."""
    import json

    from standard_coder.pipelines.vision import report_sections
    from standard_coder.pipelines.vision_layout import VisionLayout
    from standard_coder.runner.report.page import SectionInput

    layout = VisionLayout(tmp_path)
    layout.reports.mkdir(parents=True)
    layout.training.write_text(
        json.dumps(
            {
                "model_type": "testing",
                "n_parameters": 10,
                "steps": 80,
                "device": "cpu",
                "val_accuracy": 0.5,
            }
        )
    )
    layout.training_run.write_text(json.dumps({"train_seconds": 3.5,
                                               "resumed_from_step": resumed}))  # fmt: skip
    training = report_sections()[0]
    html = training.render(SectionInput(tmp_path, None, None, {}))
    said = "in 3.5 s (resumed from its checkpoint at step 40; the time is over all its runs);"
    assert (said in html) == (resumed is not None), html
    assert "80 steps on cpu in 3.5 s" in html
