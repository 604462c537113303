"""The xai method: heatmap -> boxes, the classifier's training path end to end, XRAI on the trained network.

The training test needs the train extra (torch, albumentations) and saliency; CI installs them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dsodetect.postprocess import heatmap_boxes, top_fraction_heatmap


def test_top_fraction_keeps_the_strongest_pixels_scaled_by_the_probability():
    a = np.zeros((20, 20), np.float32)
    a[2:4, 2:4] = 5.0      # 4 px, strongest
    a[10:15, 10:15] = 1.0  # 25 px
    h = top_fraction_heatmap(a, top=0.01, weight=0.7)  # 1 % of 400 px = the 4 strongest
    assert (h > 0).sum() == 4 and h.max() == pytest.approx(0.7)
    h = top_fraction_heatmap(a, top=0.1, weight=1.0)
    assert (h > 0).sum() == 29 and h[12, 12] == pytest.approx(0.2)
    assert not top_fraction_heatmap(-a, top=0.5).any(), "negative attribution is never kept"
    with pytest.raises(ValueError):
        top_fraction_heatmap(a, top=0)


def test_heatmap_boxes_one_box_per_region_scored_by_its_mean():
    h = np.zeros((60, 80), np.float32)
    h[5:15, 5:25] = 0.9
    h[30:50, 40:70] = 0.3
    h[55, 2] = 1.0  # a lone pixel: below min_area
    dets = heatmap_boxes(h, threshold=0.1, min_area=4)
    assert [(d.x0, d.y0, d.x1, d.y1) for d in dets] == [(5, 5, 25, 15), (40, 30, 70, 50)]
    assert dets[0].score == pytest.approx(0.9) and dets[1].score == pytest.approx(0.3)
    assert [d.x0 for d in heatmap_boxes(h, threshold=0.5)] == [5], "threshold cuts the faint region"
    cut = heatmap_boxes(h, threshold=0.1, min_area=4, min_score=0.5)
    assert [d.x0 for d in cut] == [5], "the box-score cut drops the faint region"
    assert heatmap_boxes(np.zeros((8, 8)), threshold=0.1) == []


def test_close_joins_the_fragments_of_one_object():
    h = np.zeros((60, 60), np.float32)
    h[10:20, 10:20] = 0.8
    h[10:20, 24:34] = 0.4  # 4 px apart: one galaxy seen as two XRAI segments
    assert len(heatmap_boxes(h, threshold=0.1)) == 2
    (d,) = heatmap_boxes(h, threshold=0.1, close=3)
    assert (d.x0, d.y0, d.x1, d.y1) == (10, 10, 34, 20)
    assert d.score == pytest.approx(0.6), "scored on the heatmap's own pixels, not the bridge"


@pytest.mark.parametrize("radius", [3, 20, 48])
def test_closing_joins_gaps_narrower_than_its_disk_and_keeps_the_image_edge(radius):
    # Blocks tall against the disk (a short fragment lets the disk pass round it) and far from the top and bottom.
    h = np.zeros((420, 400), np.float32)
    rows = slice(110, 310)
    h[rows, :40] = 0.5  # touches the left edge: the closing must not erode it there
    h[rows, 40 + 2 * radius - 2:200] = 0.5  # a gap just narrower than the disk: joined
    h[rows, 200 + 2 * radius + 3:] = 0.5  # a gap just wider: apart; touches the right edge
    dets = heatmap_boxes(h, threshold=0.1, close=radius)
    assert sorted((d.x0, d.y0, d.x1, d.y1) for d in dets) == [(0, 110, 200, 310), (200 + 2 * radius + 3, 110, 400, 310)]


def test_trim_keeps_a_faint_joined_fragment_from_stretching_the_box():
    h = np.zeros((60, 100), np.float32)
    h[10:30, 10:30] = 0.9  # the object
    h[18:22, 36:40] = 0.1  # a faint segment 6 px away, joined by the closing: 0.4 % of the heat
    (full,) = heatmap_boxes(h, threshold=0.05, close=4)
    (trimmed,) = heatmap_boxes(h, threshold=0.05, close=4, trim=0.01)
    assert (full.x0, full.x1) == (10, 40)
    assert (trimmed.x0, trimmed.y0, trimmed.x1, trimmed.y1) == (10, 10, 30, 30)
    assert trimmed.score == full.score, "trim moves the box, not the region's score"
    # Half the mass of a uniform region from each side: the central pixels only, never an empty box.
    (mid,) = heatmap_boxes(h[:, :32], threshold=0.05, trim=0.49)
    assert 0 < mid.x1 - mid.x0 <= 2 and 0 < mid.y1 - mid.y0 <= 2
    for bad in (-0.1, 0.5):
        with pytest.raises(ValueError, match="0 <= trim < 0.5"):
            heatmap_boxes(h, threshold=0.05, trim=bad)


def test_patch_heatmap_stitches_patches_by_maximum():
    from dsodetect.postprocess import patch_heatmap

    seen = []

    def fn(batch):
        seen.append(batch.shape)
        return batch[..., 0]  # the red channel as the map

    rgb = np.zeros((300, 500, 3), np.float32)
    rgb[140:160, 240:260, 0] = 1.0  # across the border of two patches
    out = patch_heatmap(rgb, fn, patch=224, overlap=16)
    assert out.shape == (300, 500) and seen == [(6, 224, 224, 3)]  # a 2 x 3 grid
    np.testing.assert_array_equal(out, rgb[..., 0])
    small = patch_heatmap(np.ones((100, 120, 3), np.float32), lambda b: b[..., 0], patch=224)
    assert small.shape == (100, 120) and np.allclose(small, 1)
    seen.clear()
    assert np.array_equal(patch_heatmap(rgb, fn, patch=224, overlap=16, batch=4), out)
    assert seen == [(4, 224, 224, 3), (2, 224, 224, 3)], "a frame's patches go in bounded batches"


def _sky_dataset(root, n=12, size=256, seed=0):
    """Dark noisy skies, half with a bright elliptical 'galaxy', YOLO labels."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        img = rng.normal(25, 5, (size, size, 3)).clip(0, 255).astype(np.uint8)
        lines = ""
        if i % 2 == 0:
            cx, cy = rng.uniform(60, size - 60, 2)
            ax, ay = rng.uniform(15, 35, 2)
            cv2.ellipse(img, (int(cx), int(cy)), (int(ax), int(ay)), 30, 0, 360, (200, 190, 230), -1)
            lines = f"0 {cx / size:.5f} {cy / size:.5f} {2 * ax / size:.5f} {2 * ay / size:.5f}\n"
        cv2.imwrite(str(root / "images" / f"sky{i}.jpg"), img)
        (root / "labels" / f"sky{i}.txt").write_text(lines)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run through the CLI: the installed model folder and the data."""
    pytest.importorskip("torch")
    pytest.importorskip("albumentations")
    from typer.testing import CliRunner

    from dsodetect.cli import app

    tmp = tmp_path_factory.mktemp("xai")
    _sky_dataset(tmp / "data")
    res = CliRunner().invoke(app, ["train", "classifier", "--data", str(tmp / "data"), "--preset", "tiny",
                                   "--runs", str(tmp / "runs"), "--name", "c", "--val-fraction", "0.3",
                                   "--no-tune", "--out", str(tmp / "models"), "--model-name", "xai-test"])
    assert res.exit_code == 0, res.output
    return tmp


def test_train_classifier_writes_checkpoints_history_and_a_card(trained):
    run = trained / "runs" / "c"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file(), "checkpoints to resume from"
    hist = json.loads((run / "history.json").read_text())
    assert len(hist) == 1 and hist[0]["val_confusion"] and 0 <= hist[0]["val_accuracy"] <= 1
    card = json.loads((trained / "models" / "xai-test.card.json").read_text())
    assert card["method"] == "xai" and "CC BY-NC-ND 4.0" in card["data_licence"]
    assert card["extra"]["arch"] == "mobilenet_v3_small" and card["extra"]["size"] == 224


def test_resume_continues_from_the_last_epoch(trained):
    torch = pytest.importorskip("torch")
    from dsodetect.train.classifier import train_classifier

    run = trained / "runs" / "c"
    state = torch.load(run / "last.pt", weights_only=False)
    state["recipe"]["epochs"] = 2  # one more epoch than was run
    torch.save(state, run / "last.pt")
    train_classifier(None, out=run, resume=True, progress=False)
    assert [r["epoch"] for r in json.loads((run / "history.json").read_text())] == [1, 2]


def test_one_onnx_file_serves_onnxruntime_and_torch(trained):
    torch = pytest.importorskip("torch")
    from dsodetect.detectors.xai import XaiDetector
    from dsodetect.detectors.xai.network import load_torch

    onnx = trained / "models" / "xai-test.onnx"
    det = XaiDetector(str(onnx))
    x = np.random.default_rng(0).uniform(0, 1, (3, 224, 224, 3)).astype(np.float32)
    net = load_torch(onnx)  # architecture recognised from the file
    with torch.no_grad():
        ref = torch.sigmoid(net(torch.from_numpy(x).permute(0, 3, 1, 2)))[:, 0].numpy()
    np.testing.assert_allclose(det.classify(x), ref, atol=1e-5)


def test_xai_method_end_to_end(trained, monkeypatch):
    pytest.importorskip("saliency")
    from typer.testing import CliRunner

    from dsodetect.cli import app

    monkeypatch.setenv("DSODETECT_MODELS", str(trained / "models"))
    img = trained / "data" / "images" / "sky0.jpg"
    out = trained / "out"
    # presence=0: every patch is explained, so the untrained-enough network still yields a heatmap.
    res = CliRunner().invoke(app, ["detect", str(img), "--method", "xai", "-O", "model=xai-test", "-O", "presence=0",
                                   "-O", "steps=4", "-O", "conf=0", "--out", str(out), "--format", "yolo,json,png",
                                   "--save-extras"])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "sky0.json").read_text())
    assert "heatmap" in doc["products"]
    heat = np.load(out / "sky0.heatmap.npy")
    assert heat.shape == (256, 256) and heat.max() > 0 and 0 <= heat.min()
    lines = (out / "sky0.txt").read_text().splitlines()
    assert lines and all(len(line.split()) == 6 for line in lines)
    assert (out / "sky0.png").stat().st_size > 0


def test_a_frame_is_one_pass_each_patch_once(trained, monkeypatch):
    """A frame larger than a tile is one heatmap of its own patches (the paper's way), not the window pyramid."""
    from dsodetect.detectors.xai import XaiDetector
    from dsodetect.io import from_array
    from dsodetect.pipeline import process
    from dsodetect.postprocess import tile_grid

    monkeypatch.setenv("DSODETECT_MODELS", str(trained / "models"))
    det = XaiDetector("xai-test", presence=2.0, threads=1)  # no patch is explained: only the patch count matters
    seen = []
    classify = det.classify
    monkeypatch.setattr(det, "classify", lambda p: seen.append(len(p)) or classify(p))
    frame = from_array(np.random.default_rng(0).random((1100, 1500, 3), np.float32), stretched=True)
    result = process(frame, det)
    assert sum(seen) == len(tile_grid(1100, 1500, 224, 16))
    assert result.products["heatmap"].data.shape == (1100, 1500)


def test_xai_attribution_points_at_what_the_classifier_sees(trained):
    # A hand-made "classifier" that fires on the red channel of the upper-left quarter: XRAI must put its
    # top attribution there, and the box around it.
    torch = pytest.importorskip("torch")
    pytest.importorskip("saliency")
    from dsodetect.detectors.xai import XaiDetector

    class Quarter(torch.nn.Module):
        def forward(self, x):
            return (x[:, 0:1, :112, :112].mean(dim=(2, 3)) - 0.2) * 20

    det = XaiDetector(str(trained / "models" / "xai-test.onnx"), presence=0, top=0.1, steps=8, conf=0)
    det._torch = Quarter()
    rng = np.random.default_rng(1)
    rgb = rng.uniform(0.05, 0.15, (224, 224, 3)).astype(np.float32)
    rgb[30:70, 40:80, 0] = 0.9  # a red blob in the watched quarter
    rgb[150:190, 150:190] = 0.9  # a white blob the classifier ignores
    attr = det.attribution(rgb)
    assert attr[30:70, 40:80].mean() > 5 * attr[150:190, 150:190].mean()


def test_patches_explained_in_parallel_give_the_same_heatmap(trained):
    # Two patches at once (threads) must be the same XRAI, patch for patch, and leave torch's thread count as it was.
    torch = pytest.importorskip("torch")
    pytest.importorskip("saliency")
    from dsodetect.detectors.xai import XaiDetector

    rng = np.random.default_rng(2)
    patches = rng.uniform(0.05, 0.2, (3, 224, 224, 3)).astype(np.float32)
    patches[:, 60:120, 80:140, 0] = np.linspace(0.5, 0.9, 3)[:, None, None]
    onnx = str(trained / "models" / "xai-test.onnx")
    one = XaiDetector(onnx, presence=0, top=0.3, steps=4, threads=2, workers=1).patch_heatmaps(patches)
    before = torch.get_num_threads()
    two = XaiDetector(onnx, presence=0, top=0.3, steps=4, threads=2, workers=2).patch_heatmaps(patches)
    assert torch.get_num_threads() == before
    assert (one > 0).any() and np.allclose(one, two, atol=1e-5)


def test_bad_options_are_refused(trained):
    from dsodetect.detectors.xai import XaiDetector

    with pytest.raises(ValueError, match="baseline"):
        XaiDetector(str(trained / "models" / "xai-test.onnx"), baseline="white")
    with pytest.raises(ValueError, match="top"):
        XaiDetector(str(trained / "models" / "xai-test.onnx"), top=1.5)


def test_fast_segments_are_xrai_own_segments():
    pytest.importorskip("saliency")
    from saliency.core import xrai

    from dsodetect.detectors.xai.detector import _segments

    rng = np.random.default_rng(3)
    patch = rng.uniform(0, 0.2, (224, 224, 3)).astype(np.float32)
    patch[60:120, 80:150] += 0.6
    ours, theirs = _segments(patch), xrai._get_segments_felzenszwalb(patch)
    assert len(ours) == len(theirs) > 1
    assert all((a == b).all() for a, b in zip(ours, theirs))


def test_xai_says_what_is_missing_without_the_training_extra(monkeypatch):
    import dsodetect.detectors as detectors

    real = detectors._missing
    monkeypatch.setattr(detectors, "_missing", lambda m: m == "saliency" or real(m))
    ok, why, _ = detectors.method_status("xai")
    assert not ok and "saliency" in why and "dsodetect[train]" in why
    assert "xai" not in detectors.available_methods()
    with pytest.raises(detectors.MethodUnavailable, match="saliency"):
        detectors.get_detector("xai")


def test_tune_xai_chooses_presence_top_close_trim_and_score_on_the_val_split(trained):
    from dsodetect.train.classifier import tune_xai

    cache = {}
    found = tune_xai(trained / "models" / "xai-test.onnx", trained / "runs" / "c" / "data.yaml", tops=(0.3,),
                     presences=(0.0, 0.5), closes=(0, 8), trims=(0.0, 0.01), steps=2, cache=cache, progress=False)
    assert len(found["grid"]) == 8 and "presence=0.0,top=0.3,close=8,trim=0.01" in found["grid"]
    assert found["F1"] == max(found["grid"].values())
    assert found["trim"] in (0.0, 0.01) and found["close"] in (0, 8) and found["images"] > 0
    # XRAI once per patch: presence 0 explains every patch, presence 0.5 a subset of the same patches.
    assert found["patches_explained"] == len(cache) > 0


def test_cli_resume_finds_the_run_split(trained):
    # The run keeps its split's data.yaml from the start, so --resume works after an interrupted run too.
    from typer.testing import CliRunner

    from dsodetect.cli import app

    assert (trained / "runs" / "c" / "data.yaml").is_file()
    res = CliRunner().invoke(app, ["train", "classifier", "--data", str(trained / "data"), "--resume",
                                   "--runs", str(trained / "runs"), "--name", "c", "--no-tune",
                                   "--out", str(trained / "models-resumed"), "--model-name", "xai-test"])
    assert res.exit_code == 0, res.output
    assert (trained / "models-resumed" / "xai-test.onnx").is_file()
