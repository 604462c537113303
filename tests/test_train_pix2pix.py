"""The pix2pix method, tiny: teacher cache, training, ONNX export, detection through the CLI, fidelity measures.

No xai model is needed: a toy teacher (brightness heatmaps of synthetic blobs) stands in for it. Needs the train
extra (torch, albumentations); CI installs it, so this runs there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("albumentations")

from dsodetect.detection import DetectionResult, MethodOption, Product  # noqa: E402


class BlobTeacher:
    """A stand-in for the xai method: the heatmap is the normalised brightness above the sky, cut at ``level``."""

    name = "toy-teacher"
    tile_size = None
    options = (MethodOption("level", float, 0.3, "Cut of the heatmap."),
               MethodOption("close", int, 0, "Closing of the box stage (no effect on the heatmap)."))
    box_options = ("close",)

    def __init__(self, level: float = 0.3, shrink: int = 1, close: int = 0):
        self.level, self.shrink, self.close, self.calls = level, shrink, close, 0

    def detect(self, image):
        self.calls += 1
        gray = np.asarray(image.display(), np.float32)
        gray = gray.mean(axis=2) if gray.ndim == 3 else gray
        sky = float(np.median(gray))
        heat = np.clip((gray - sky) / max(float(gray.max()) - sky, 1e-6), 0, 1)
        heat[heat < self.level] = 0
        heat = heat[::self.shrink, ::self.shrink]  # a product smaller than the image, as stitched ones can be
        return DetectionResult(image, self.name, [], products={"heatmap": Product(heat, "heatmap", "toy")})


def _blob_dataset(root, n=6, seed=0):
    """Dark noisy skies of 256-320 px with one bright elliptical blob each; YOLO labels; 3 source ids."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    paths = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(256, 321, 2))
        img = rng.normal(20, 4, (h, w, 3)).clip(0, 255).astype(np.uint8)
        cx, cy = rng.uniform(60, w - 60), rng.uniform(60, h - 60)
        ax, ay = rng.uniform(12, 30, 2)
        blob = np.zeros((h, w), np.float32)
        cv2.ellipse(blob, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), 4)
        img = np.clip(img + blob[:, :, None] * np.array([200, 120, 110]), 0, 255).astype(np.uint8)
        path = root / "images" / f"{10 + i // 2}_{i % 2}.png"
        cv2.imwrite(str(path), img[:, :, ::-1])
        (root / "labels" / f"{path.stem}.txt").write_text(
            f"0 {cx / w:.5f} {cy / h:.5f} {2 * ax / w:.5f} {2 * ay / h:.5f}\n")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------- (a) teacher cache


def test_teacher_cache_resumes_and_reports_bad_images(tmp_path):
    from dsodetect.io import read_image
    from dsodetect.train.pix2pix import make_teacher_cache

    paths = _blob_dataset(tmp_path / "data", n=3)
    bad = tmp_path / "data" / "images" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    teacher, errors = BlobTeacher(), []
    m = make_teacher_cache(paths + [bad], tmp_path / "cache", detector=teacher, progress=False,
                           on_error=lambda p, msg: errors.append(msg))
    assert teacher.calls == 3 and m["computed"] == 3
    assert len(errors) == 1 and "broken.png" in errors[0] and "\n" not in errors[0]
    for p in paths:
        heat = np.load(tmp_path / "cache" / f"{p.stem}.npy")
        assert heat.dtype == np.float16 and heat.shape == read_image(p).shape
        assert 0 <= heat.min() and heat.max() <= 1 and heat.max() > 0.5
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert manifest["teacher"] == {"method": "toy-teacher", "model": None, "options": {"level": 0.3, "close": 0}}
    assert set(manifest["images"]) == {p.stem for p in paths}
    assert all(v["seconds"] >= 0 for v in manifest["images"].values()) and manifest["seconds_per_image"] >= 0

    # Resumed: nothing is computed again (the broken file is still reported, once).
    m = make_teacher_cache(paths + [bad], tmp_path / "cache", detector=teacher, progress=False,
                           on_error=lambda p, msg: errors.append(msg))
    assert teacher.calls == 3 and m["computed"] == 0 and len(errors) == 2

    # Another teacher's heatmaps never mix into the cache.
    with pytest.raises(ValueError, match="another teacher"):
        make_teacher_cache(paths, tmp_path / "cache", detector=BlobTeacher(level=0.5), progress=False)
    # Another box stage makes the same heatmaps: the cache serves it.
    again = make_teacher_cache(paths, tmp_path / "cache", detector=BlobTeacher(close=8), progress=False)
    assert again["computed"] == 0


def test_teacher_cache_resizes_a_small_product_to_the_image(tmp_path):
    from dsodetect.io import read_image
    from dsodetect.train.pix2pix import make_teacher_cache

    paths = _blob_dataset(tmp_path / "data", n=1)
    make_teacher_cache(paths, tmp_path / "cache", detector=BlobTeacher(shrink=2), progress=False)
    assert np.load(tmp_path / "cache" / f"{paths[0].stem}.npy").shape == read_image(paths[0]).shape


# --------------------------------------------------------------------------------------------- (b) end to end


def test_train_export_and_detect_end_to_end(tmp_path, monkeypatch):
    import onnxruntime as ort
    from typer.testing import CliRunner

    from dsodetect.cli import app
    from dsodetect.train.pix2pix import build_generator, make_teacher_cache

    monkeypatch.setenv("DSODETECT_MODELS", str(tmp_path / "models"))
    paths = _blob_dataset(tmp_path / "data")
    make_teacher_cache(paths, tmp_path / "cache", detector=BlobTeacher(), progress=False)
    runner = CliRunner()
    # A complete cache needs no teacher: the xai method is not asked for.
    res = runner.invoke(app, ["train", "pix2pix", "--data", str(tmp_path / "data"), "--teacher-cache",
                              str(tmp_path / "cache"), "--preset", "tiny", "--runs", str(tmp_path / "runs"),
                              "--name", "t", "--val-fraction", "0.34", "--model-name", "p2p-test"])
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / "t"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file(), "checkpoints to resume from"
    assert (run / "samples" / "epoch_001.png").stat().st_size > 0 and (run / "history.png").is_file()
    card = json.loads((tmp_path / "models" / "p2p-test.card.json").read_text())
    assert card["method"] == "pix2pix" and "CC BY-NC-ND 4.0" in card["data_licence"]
    assert card["extra"]["size"] == 256 and 0 < card["extra"]["threshold"] < 1
    assert card["extra"]["teacher"]["method"] == "toy-teacher"
    assert {"correlation", "top_iou", "overlay_psnr", "box_f1"} <= set(card["scores"]["val_source_ids"]["fidelity"])
    # The closing radius is chosen with the threshold (the teacher's first, so it wins ties), and the card keeps it.
    val = card["scores"]["val_source_ids"]
    assert list(val["f1_by_close"]) == ["0", "16", "32", "48"] and card["extra"]["close"] == val["close"]
    assert val["F1"] == max(val["f1_by_close"].values()) == max(val["f1_by_trim"].values())
    # So is the box trim, and the detector reads both from the card (every box kept: no score cut is chosen).
    assert list(val["f1_by_trim"]) == ["0.0", "0.005", "0.01", "0.02"] and card["extra"]["trim"] == val["trim"]
    from dsodetect.detectors.pix2pix import Pix2PixDetector

    det = Pix2PixDetector("p2p-test")
    assert (det.close, det.trim, det.conf) == (val["close"], val["trim"], 0.0)
    assert Pix2PixDetector("p2p-test", conf=0.3).conf == 0.3

    # The ONNX generator computes what the torch one does.
    onnx = run / "p2p-test.onnx"
    state = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    gen = build_generator(state["recipe"]["ngf"])
    gen.load_state_dict(state["generator"])
    gen.eval()
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = gen(x).numpy()
    sess = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["image"] and [o.name for o in sess.get_outputs()] == ["heatmap"]
    got = sess.run(None, {"image": x.numpy()})[0]
    assert got.shape == (2, 1, 256, 256)
    np.testing.assert_allclose(got, ref, atol=1e-4)

    # A user .onnx file without a card runs through the CLI with the defaults.
    user = tmp_path / "mine.onnx"
    user.write_bytes(onnx.read_bytes())
    img = paths[1]
    res = runner.invoke(app, ["detect", str(img), "--method", "pix2pix", "-O", f"model={user}",
                              "--out", str(tmp_path / "out"), "--format", "yolo,json,png"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    assert (out / f"{img.stem}.txt").is_file() and (out / f"{img.stem}.png").stat().st_size > 0
    doc = json.loads((out / f"{img.stem}.json").read_text())
    assert doc["method"] == "pix2pix" and doc["products"]["heatmap"]["kind"] == "heatmap"
    assert doc["products"]["heatmap"]["shape"] == [doc["height"], doc["width"]]

    # Inference imports no training dependency; a frame larger than a tile is one pass, its heatmap the frame's.
    import cv2

    big = tmp_path / "big.png"
    cv2.imwrite(str(big), cv2.resize(cv2.imread(str(img)), (600, 520)))
    code = ("import sys\n"
            "from dsodetect.detectors.pix2pix import Pix2PixDetector\n"
            "from dsodetect.io import read_image\n"
            "from dsodetect.pipeline import process\n"
            f"r = process(read_image({str(big)!r}), Pix2PixDetector({str(user)!r}, threads=1))\n"
            "print(r.products['heatmap'].data.shape, "
            "[m for m in ('torch', 'torchvision', 'albumentations', 'onnx') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "(520, 600) []", done.stdout + done.stderr


def test_train_resumes_from_last_checkpoint(tmp_path):
    from dsodetect.train.data import prepare_data
    from dsodetect.train.pix2pix import PRESETS, make_teacher_cache, train_pix2pix

    paths = _blob_dataset(tmp_path / "data", n=4, seed=3)
    make_teacher_cache(paths, tmp_path / "cache", detector=BlobTeacher(), progress=False)
    yaml_path = prepare_data(tmp_path / "data", tmp_path / "split", val_fraction=0.5)
    recipe = PRESETS["tiny"].with_(val_crops=2, loss="bce", blur=2.0)
    train_pix2pix(yaml_path, tmp_path / "cache", out=tmp_path / "run", recipe=recipe, progress=False)
    with pytest.raises(FileNotFoundError):
        train_pix2pix(yaml_path, tmp_path / "cache", out=tmp_path / "other", recipe=recipe, resume=True)
    # Resumed with more epochs in its checkpoint's recipe: it continues at epoch 2.
    state = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=False)
    state["recipe"]["epochs"] = 2
    torch.save(state, tmp_path / "run" / "last.pt")
    train_pix2pix(yaml_path, tmp_path / "cache", out=tmp_path / "run", resume=True, progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(np.isfinite(r["val_loss"]) and r["train_g_rec"] > 0 for r in history)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["recipe"]["loss"] == "bce"
    # The second of two epochs is the decaying half: both optimizers ran it at half the rate.
    lr = state["recipe"]["lr"]
    assert [g["lr"] for o in ("opt_g", "opt_d") for g in state[o]["param_groups"]] == [lr / 2, lr / 2]


def test_learning_rate_is_constant_then_falls_linearly():
    from dsodetect.train.pix2pix import Pix2PixRecipe

    r = Pix2PixRecipe(epochs=10, lr=1.0)
    assert [round(r.lr_at(e), 3) for e in range(10)] == [1, 1, 1, 1, 1, 0.833, 0.667, 0.5, 0.333, 0.167]
    assert {r.with_(decay=0.0).lr_at(e) for e in range(10)} == {1.0}
    assert r.with_(decay=1.0).lr_at(0) < 1.0
    with pytest.raises(ValueError, match="share of the epochs"):
        Pix2PixRecipe(decay=1.5)


def test_reconstruction_losses_learn_the_median_or_the_mean():
    # Where the teacher is sure of nothing (1 pixel in 4 hot), L1 is least at 0 (the median: an empty map, no box)
    # and cross-entropy at 0.25 (the mean), which a threshold can still find: why "bce" is offered.
    from dsodetect.train.pix2pix import Pix2PixRecipe, _recon_loss

    y = torch.tensor([0.0, 0.0, 0.0, 1.0])
    loss = {(name, p): float(_recon_loss(name, torch.full((4,), p), y)) for name in ("l1", "bce")
            for p in (0.01, 0.25, 0.5)}
    assert loss["l1", 0.01] < loss["l1", 0.25] < loss["l1", 0.5]
    assert loss["bce", 0.25] < loss["bce", 0.01] and loss["bce", 0.25] < loss["bce", 0.5]
    with pytest.raises(ValueError, match="unknown pix2pix loss 'huber'"):
        Pix2PixRecipe(loss="huber")


def test_train_command_refuses_an_unknown_loss(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    res = CliRunner().invoke(app, ["train", "pix2pix", "--data", str(tmp_path), "--loss", "huber"])
    assert res.exit_code == 2 and "unknown pix2pix loss 'huber'; choose from l1, bce" in res.output


def test_train_command_without_teacher_says_so(tmp_path, monkeypatch):
    # An empty cache needs the xai method; when it cannot run, one clear line and exit status 2.
    from typer.testing import CliRunner

    from dsodetect.cli import app
    from dsodetect.detectors import MethodUnavailable

    def unavailable(name, **options):
        raise MethodUnavailable(f"method {name!r} is not in this version of dsodetect")

    monkeypatch.setattr("dsodetect.detectors.get_detector", unavailable)
    _blob_dataset(tmp_path / "data", n=4)
    res = CliRunner().invoke(app, ["train", "pix2pix", "--data", str(tmp_path / "data"), "--preset", "tiny",
                                   "--runs", str(tmp_path / "runs"), "--val-fraction", "0.5"])
    assert res.exit_code == 2
    assert "teacher (the xai method) cannot run here" in res.output


# --------------------------------------------------------------------------------------------- (c) fidelity


def _disc(h, w, cx, cy, r, value=0.8):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.where((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r, value, 0).astype(np.float32)


def test_fidelity_of_identical_maps_is_perfect():
    from dsodetect.train.pix2pix import heatmap_fidelity

    t = _disc(128, 160, 50, 60, 20) + 0.5 * _disc(128, 160, 120, 40, 10)
    f = heatmap_fidelity(t.copy(), t, top=0.1)
    assert f["correlation"] == pytest.approx(1.0) and f["top_iou"] == 1.0
    assert f["box_f1"] == 1.0 and f["boxes_pred"] == f["boxes_teacher"] == 2
    assert f["overlay_psnr"] > 100
    # Two empty maps agree too.
    z = np.zeros((64, 64), np.float32)
    f = heatmap_fidelity(z, z)
    assert f["correlation"] == 1.0 and f["top_iou"] == 1.0 and f["box_f1"] == 1.0


def test_fidelity_of_disjoint_maps_is_low():
    from dsodetect.train.pix2pix import heatmap_fidelity

    t = _disc(128, 160, 40, 60, 20)
    p = _disc(128, 160, 120, 60, 20)
    f = heatmap_fidelity(p, t, top=0.1)
    assert f["correlation"] < 0.1 and f["top_iou"] == 0.0
    assert f["box_f1"] == 0.0 and f["box_precision"] == 0.0 and f["box_recall"] == 0.0
    assert f["overlay_psnr"] < heatmap_fidelity(t, t)["overlay_psnr"]
    # A prediction at another resolution is compared at the teacher's; half overlap scores in between.
    half = heatmap_fidelity(_disc(64, 80, 20, 30, 10), t)
    assert half["correlation"] > 0.9
    shifted = heatmap_fidelity(_disc(128, 160, 55, 60, 20), t)
    assert 0 < shifted["top_iou"] < 1 and 0 < shifted["correlation"] < 1
