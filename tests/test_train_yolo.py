"""The YOLO training path end to end, tiny: train one epoch offline, export ONNX, install, detect with it.

Needs the train extra (torch, ultralytics); CI installs it, so this runs there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")


def _sky_dataset(root, n=8, size=128, seed=0):
    """Dark noisy skies with one red elliptical 'nebula' each, YOLO labels."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        img = rng.normal(20, 4, (size, size, 3)).clip(0, 255).astype(np.uint8)
        cx, cy = rng.uniform(30, size - 30, 2)
        ax, ay = rng.uniform(8, 20, 2)
        cv2.ellipse(img, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360, (40, 40, 200), -1)
        cv2.imwrite(str(root / "images" / f"{i}.jpg"), img)
        (root / "labels" / f"{i}.txt").write_text(
            f"0 {cx / size:.5f} {cy / size:.5f} {2 * ax / size:.5f} {2 * ay / size:.5f}\n")


def test_train_export_install_and_detect(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    monkeypatch.setenv("DSODETECT_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    _sky_dataset(tmp_path / "data")
    runner = CliRunner()
    res = runner.invoke(app, ["train", "yolo", "--data", str(tmp_path / "data"), "--preset", "tiny",
                              "--runs", str(tmp_path / "runs"), "--name", "t", "--val-fraction", "0.25",
                              "--model-name", "yolo-test"])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "models" / "yolo-test.card.json").read_text())
    assert card["method"] == "yolo" and "CC BY-NC-ND 4.0" in card["data_licence"]
    assert card["extra"]["imgsz"] == 64 and 0 <= card["extra"]["min_score"] <= 1
    assert (tmp_path / "runs" / "t" / "weights" / "last.pt").is_file(), "a checkpoint to resume from"
    import os

    import torch

    # Ultralytics leaves one core idle on the CPU (cpu_count - 1 threads: half of a 2-core laptop).
    assert torch.get_num_threads() == os.cpu_count()

    # The exported model through --method yolo (ONNX Runtime), the CLI contract's outputs.
    img = tmp_path / "data" / "images" / "3.jpg"
    res = runner.invoke(app, ["detect", str(img), "--method", "yolo", "-O", "model=yolo-test",
                              "-O", "conf=0.0", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "out" / "3.txt").read_text().splitlines()
    assert lines, "conf=0 keeps every box the network makes"
    for line in lines:
        f = line.split()
        assert len(f) == 6 and f[0] == "0" and all(0 <= float(v) <= 1 for v in f[1:])
    assert (tmp_path / "out" / "3.png").stat().st_size > 0

    # The optional int8 model: calibrated on the run's training split, its own threshold, its card, detects.
    res = runner.invoke(app, ["train", "yolo-int8", "--model", "yolo-test", "--data",
                              str(tmp_path / "runs" / "t-data" / "data.yaml"), "--images", "4"])
    assert res.exit_code == 0, res.output
    q = json.loads((tmp_path / "models" / "yolo-test-int8.card.json").read_text())
    assert q["extra"]["quantized_from"] == "yolo-test" and "CC BY-NC-ND 4.0" in q["data_licence"]
    assert 0 <= q["extra"]["min_score"] <= 1 and q["scores"]["val_source_ids"]["images"] == 2
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "models" / "yolo-test-int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    res = runner.invoke(app, ["detect", str(img), "--method", "yolo", "-O", "model=yolo-test-int8",
                              "-O", "conf=0.0", "--out", str(tmp_path / "out8"), "--format", "yolo"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out8" / "3.txt").read_text().strip(), "the int8 model makes boxes"
    for args, why in ((["--model", "yolo-test", "--data", str(tmp_path / "nowhere.yaml")], "nowhere.yaml"),
                      (["--model", "xai-classifier", "--data", str(tmp_path / "nowhere.yaml")], "not a YOLO model"),
                      (["--model", "no-such-model", "--data", str(tmp_path / "nowhere.yaml")], "no-such-model")):
        res = runner.invoke(app, ["train", "yolo-int8", *args])
        assert res.exit_code == 2 and why in res.output, res.output

    # Pseudo-labels from the installed model, then trained on through --extra (training split only).
    import yaml

    from dsodetect.dataset import validate_dataset

    res = runner.invoke(app, ["train", "pseudo-label", str(tmp_path / "data" / "images"), "-o", str(tmp_path / "pl"),
                              "-O", "model=yolo-test", "-O", "conf=0.0"])
    assert res.exit_code == 0, res.output
    assert validate_dataset(tmp_path / "pl").ok and len(list((tmp_path / "pl" / "labels").glob("*.txt"))) == 8
    res = runner.invoke(app, ["train", "yolo", "--data", str(tmp_path / "data"), "--preset", "tiny", "--extra",
                              str(tmp_path / "pl"), "--runs", str(tmp_path / "runs"), "--name", "x",
                              "--val-fraction", "0.25", "--model-name", "yolo-x", "--lr0", "0.001"])
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((tmp_path / "runs" / "x-data" / "data.yaml").read_text())
    assert cfg["train"][-1] == str((tmp_path / "pl" / "images").resolve()) and cfg["val"] == "images/val"
    assert json.loads((tmp_path / "runs" / "x" / "recipe.json").read_text())["lr0"] == 0.001


def test_onnx_matches_the_torch_model_exactly(tmp_path, monkeypatch):
    # The letterbox inverse is exact: on a frame of the network's own size the
    # ONNX detector returns the boxes Ultralytics' own predictor returns.
    import cv2
    from ultralytics import YOLO

    from dsodetect.detectors.yolo import YoloDetector
    from dsodetect.io import read_image
    from dsodetect.train.yolo import PRESETS, export_onnx, prepare_data, train_yolo

    monkeypatch.setenv("YOLO_OFFLINE", "1")
    _sky_dataset(tmp_path / "data", seed=1)
    yaml_path = prepare_data(tmp_path / "data", tmp_path / "split", val_fraction=0.25)
    best = train_yolo(yaml_path, out=tmp_path / "runs", recipe=PRESETS["tiny"], name="m")
    onnx = export_onnx(best, tmp_path / "m.onnx", imgsz=64)
    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), cv2.resize(cv2.imread(str(tmp_path / "data" / "images" / "0.jpg")), (64, 64),
                                       interpolation=cv2.INTER_AREA))
    ours = YoloDetector(str(onnx), conf=0.001, iou=0.5).detect(read_image(frame)).detections
    ref = YOLO(str(best)).predict(str(frame), imgsz=64, conf=0.001, iou=0.5, device="cpu", verbose=False)[0]
    ref_boxes = ref.boxes.xyxy.numpy()
    assert len(ours) and len(ref_boxes)
    top = np.array([ours[0].x0, ours[0].y0, ours[0].x1, ours[0].y1])
    assert np.abs(ref_boxes[0] - top).max() < 0.5, (ref_boxes[0], top)
    assert ours[0].score == pytest.approx(float(ref.boxes.conf[0]), abs=1e-3)


@pytest.mark.filterwarnings("ignore::dsodetect.train.EmulatedBf16Warning")  # on CPUs without native bf16
def test_weights_fine_tune_starts_from_the_checkpoint(tmp_path, monkeypatch):
    # --weights is transfer learning: the trainer's first weights are the checkpoint's, not random ones.
    from ultralytics.models.yolo.detect import DetectionTrainer

    from dsodetect.train.yolo import PRESETS, prepare_data, train_yolo

    monkeypatch.setenv("YOLO_OFFLINE", "1")
    _sky_dataset(tmp_path / "data", seed=2)
    yaml_path = prepare_data(tmp_path / "data", tmp_path / "split", val_fraction=0.25)
    first = train_yolo(yaml_path, out=tmp_path / "runs", recipe=PRESETS["tiny"], name="a")
    # Mark the checkpoint: every weight of its first layer set to 0.5, which no initialisation gives.
    ckpt = torch.load(first, map_location="cpu", weights_only=False)
    marked = next(ckpt["model"].parameters())
    with torch.no_grad():
        marked.fill_(0.5)
    torch.save(ckpt, tmp_path / "marked.pt")
    seen = []
    setup = DetectionTrainer._setup_train

    def spy(self, *a, **k):
        setup(self, *a, **k)
        seen.append(next(self.model.parameters()).detach().float().clone())

    monkeypatch.setattr(DetectionTrainer, "_setup_train", spy)
    # In bf16 (the default on CPUs with native bfloat16), as the first real fine-tune ran.
    train_yolo(yaml_path, out=tmp_path / "runs", recipe=PRESETS["tiny"].with_(bf16=True), name="b",
               weights=tmp_path / "marked.pt")
    assert seen and torch.allclose(seen[0], torch.full_like(seen[0], 0.5), atol=1e-3)
