"""The one pipeline: stages, the result type, tiled inference, method options, the model registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dsodetect.detection import Detection, DetectionResult, MethodOption, Product
from dsodetect.io import Image
from dsodetect.pipeline import process, run_batch
from dsodetect.postprocess import box_iou, detect_tiled, needs_tiling, tile_grid

ROOT = Path(__file__).resolve().parents[1]


class BlobDetector:
    """Boxes every bright blob (connected pixels above 0.5) in the window it is given.

    Blobs cut by the window edge come out cut, as a real method's would: the
    tiled inference has to drop them and find the whole blob elsewhere.
    """

    name = "blobs"
    tile_size = 200

    def __init__(self):
        self.calls = []

    def detect(self, image):
        import cv2

        self.calls.append(image.shape)
        gray = image.display()
        gray = gray.mean(axis=2) if gray.ndim == 3 else gray
        n, _, stats, _ = cv2.connectedComponentsWithStats((gray > 0.5).astype(np.uint8))
        dets = [Detection(float(x), float(y), float(x + w), float(y + h), score=0.9)
                for x, y, w, h, _ in stats[1:]]
        heat = Product(gray.astype(np.float32), "heatmap", "brightness")
        return DetectionResult(image, self.name, dets, products={"heatmap": heat})


def _frame(h, w, boxes):
    data = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1 in boxes:
        data[y0:y1, x0:x1] = 1.0
    return Image(data, stretched=True)


def test_tile_grid_covers_the_frame_with_overlap():
    tiles = tile_grid(1000, 1300, size=400, overlap=200)
    cover = np.zeros((1000, 1300), int)
    for t in tiles:
        cover[t.slices] += 1
        assert (t.x1 - t.x0, t.y1 - t.y0) == (400, 400)
    assert cover.min() >= 1
    assert needs_tiling((1000, 1300), 400) and not needs_tiling((500, 500), 400)
    assert not needs_tiling((5000, 5000), None)


def test_tiled_inference_boxes_every_object_once_across_seams():
    # Ten objects in a 1000 x 1500 frame for a method made for 200 px tiles:
    # small ones, ones on tile seams, and one larger than a tile.
    truth = [(10, 10, 40, 40), (190, 50, 230, 90), (390, 380, 430, 420), (600, 100, 700, 160),
             (1200, 850, 1260, 900), (1300, 20, 1340, 60), (1450, 940, 1490, 990), (100, 600, 160, 640),
             (700, 500, 1100, 800), (50, 900, 120, 980)]
    det = BlobDetector()
    res = detect_tiled(det, _frame(1000, 1500, truth))
    got = np.array([[d.x0, d.y0, d.x1, d.y1] for d in res.detections])
    iou = box_iou(np.array(truth, float), got)
    assert len(got) == len(truth), got
    assert (iou.max(axis=1) > 0.85).all(), iou.max(axis=1)
    assert max(det.calls) <= (200, 200), "every window is shrunk to the method's tile"
    heat = res.products["heatmap"]
    assert heat.kind == "heatmap" and heat.data.shape == (1000, 1500)
    assert heat.data[870, 1230] == pytest.approx(1.0) and heat.data[5, 700] == 0


def test_tiled_inference_shrinks_windows_once_to_a_network_input():
    # A method whose network looks at 100 px gets every window at 100 px (not 200 then 100 inside it), and its
    # boxes still land on the objects in frame pixels.
    truth = [(10, 10, 50, 50), (390, 380, 450, 440), (700, 500, 1100, 800)]
    det = BlobDetector()
    det.input_size = 100
    res = detect_tiled(det, _frame(1000, 1500, truth))
    assert max(max(c[:2]) for c in det.calls) == 100 and min(min(c[:2]) for c in det.calls) >= 60
    got = np.array([[d.x0, d.y0, d.x1, d.y1] for d in res.detections])
    assert len(got) == len(truth), got
    assert (box_iou(np.array(truth, float), got).max(axis=1) > 0.8).all()


def test_pipeline_tiles_large_frames_by_default_and_not_small_ones():
    det = BlobDetector()
    process(_frame(250, 250, [(10, 10, 50, 50)]), det)
    assert det.calls == [(250, 250)]
    det.calls.clear()
    res = process(_frame(700, 900, [(10, 10, 50, 50), (600, 400, 650, 450)]), det)
    assert len(det.calls) > 4 and len(res.detections) == 2
    det.calls.clear()
    process(_frame(700, 900, [(10, 10, 50, 50)]), det, tiling=False)
    assert det.calls == [(700, 900)]


class ListDetector:
    """A third-party method that returns a plain list (accepted)."""

    name = "list"

    def detect(self, image):
        return [Detection(-20, -20, 50, 50, score=0.9), Detection(10, 10, 30, 30, score=0.2),
                Detection(500, 500, 600, 600, score=0.99)]  # entirely outside: dropped


def test_process_clips_filters_identifies_and_writes(tmp_path):
    seen = []

    def identifier(image, detections):
        seen.append(len(detections))
        for d in detections:
            d.extras["names"] = ["Test Nebula"]
        return None

    image = Image(np.zeros((100, 120), np.float32), stretched=True, stem="frame")
    res = process(image, ListDetector(), min_score=0.5, identifier=identifier, out_dir=tmp_path,
                  formats=("yolo", "json", "png"))
    assert [(d.x0, d.y0, d.x1, d.y1) for d in res.detections] == [(0, 0, 50, 50)]
    assert seen == [1], "identification sees the clipped, filtered boxes"
    assert res.detections[0].method == "list" and res.seconds >= 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame.json", "frame.png", "frame.txt"]
    assert json.loads((tmp_path / "frame.json").read_text())["detections"][0]["extras"]["names"] == ["Test Nebula"]


def test_products_are_written_with_save_products(tmp_path):
    res = process(_frame(120, 160, [(20, 20, 60, 60)]), BlobDetector(), out_dir=tmp_path, save_products=True)
    assert res.products["heatmap"].data.shape == (120, 160)
    assert np.load(tmp_path / "image.heatmap.npy").shape == (120, 160)
    assert (tmp_path / "image.heatmap.png").stat().st_size > 100
    meta = json.loads((tmp_path / "image.json").read_text())["products"]["heatmap"]
    assert meta == {"kind": "heatmap", "shape": [120, 160], "description": "brightness"}


def test_batch_goes_on_past_unreadable_files_and_unwritable_outputs(tmp_path):
    import cv2

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.zeros((40, 40), np.uint8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    errors = []
    report = run_batch([bad, good], ListDetector(), out_dir=tmp_path / "out", formats=("yolo",),
                       on_error=lambda p, m: errors.append(m))
    assert [r.name for r in report.results] == ["good"]
    assert len(errors) == 1 and errors[0].startswith(str(bad)) and "\n" not in errors[0]
    # The output folder is a file: every image fails with one line, nothing half-written.
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    errors.clear()
    report = run_batch([good, good], ListDetector(), out_dir=blocker, formats=("yolo",),
                       on_error=lambda p, m: errors.append(m))
    assert len(report.failures) == 2 and len(errors) == 2 and not report.results


def test_method_options_are_declared_parsed_and_checked():
    from dsodetect.detectors import get_detector, method_options, parse_options

    opts = method_options("classical")
    assert isinstance(opts["star_remover"], MethodOption)
    assert parse_options("classical", ["max_boxes=5", "star-remover=builtin"]) == {"max_boxes": 5,
                                                                                    "star_remover": "builtin"}
    with pytest.raises(ValueError, match="no option 'speed'"):
        parse_options("classical", ["speed=3"])
    with pytest.raises(ValueError, match="expected int"):
        parse_options("classical", ["max_boxes=many"])
    with pytest.raises(ValueError, match="choose from"):
        parse_options("classical", ["star_remover=magic"])
    assert get_detector("classical", **parse_options("classical", ["max_boxes=1"])).params.max_boxes == 1


def test_cli_rejects_an_unknown_option_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    res = CliRunner().invoke(app, ["detect", str(tmp_path), "-O", "speed=3"])
    assert res.exit_code == 2
    assert "has no option 'speed'" in res.output and "Traceback" not in res.output


def test_model_registry_resolves_checks_and_lists(tmp_path, monkeypatch):
    from dsodetect.models import (ModelCard, ModelChecksumError, ModelNotFound, install_model, list_models,
                                  load_card, model_path)

    card = load_card("classical-scorer")
    assert card.method == "classical" and "CC BY-NC-ND 4.0" in card.data_licence
    assert model_path("classical-scorer").is_file()
    # A user folder comes before the package, and the sha256 is checked.
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    monkeypatch.setenv("DSODETECT_MODELS", str(tmp_path / "models"))
    install_model(f, ModelCard(name="toy-model", method="toy", file="toy.bin", sha256="", summary="a toy"))
    assert model_path("toy-model").read_bytes() == b"weights"
    assert "toy-model" in [c.name for c, _ in list_models()]
    (tmp_path / "models" / "toy.bin").write_bytes(b"tampered")
    with pytest.raises(ModelChecksumError, match="does not match"):
        model_path("toy-model")
    with pytest.raises(ModelNotFound, match="dsodetect models"):
        model_path("no-such-model")


def test_architecture_doc_toy_method_runs(tmp_path):
    # docs/architecture.md's worked example: a method in under 40 lines, run through the pipeline.
    text = (ROOT / "docs" / "architecture.md").read_text()
    code = re.search(r"```python\n(# toy method.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) < 40
    namespace = {}
    exec(compile(code, "architecture.md", "exec"), namespace)  # noqa: S102 - the doc's own example
    image = Image(np.zeros((300, 400), np.float32), stretched=True)
    image.data[100:140, 200:260] = 1.0
    res = process(image, namespace["BrightestSpot"](), out_dir=tmp_path)
    assert len(res.detections) == 1
    assert box_iou(np.array([[200, 100, 260, 140]], float),
                   np.array([[res.detections[0].x0, res.detections[0].y0, res.detections[0].x1,
                              res.detections[0].y1]]))[0, 0] > 0.5
    assert (tmp_path / "image.txt").read_text().startswith("0 ")


def test_yolo_windows_side_by_side_give_the_boxes_of_windows_one_by_one():
    # The shipped model's windows run one per core with a one-thread session each; the boxes must be those of the
    # windows run one at a time through the main session.
    from dsodetect.detectors.yolo import YoloDetector
    from dsodetect.io import read_image

    image = read_image(ROOT / "examples" / "NGC7000_vespera_app.jpg")
    side = YoloDetector(conf=0.01)
    alone = YoloDetector(conf=0.01, threads=2)
    assert alone.tiling["workers"] == 1 and side.tiling["workers"] >= 1
    a = detect_tiled(side, image, tile_size=320, overlap=0.5, iou_threshold=0.3, workers=2).detections
    b = detect_tiled(alone, image, tile_size=320, overlap=0.5, iou_threshold=0.3).detections
    if side.tiling["workers"] > 1:  # one core: windows one at a time through the main session
        assert side._window_session is not None and side._window_session is not side.session
    assert len(a) == len(b) > 0
    got = np.array([[d.x0, d.y0, d.x1, d.y1, d.score] for d in a])
    ref = np.array([[d.x0, d.y0, d.x1, d.y1, d.score] for d in b])
    assert np.allclose(got, ref, atol=1e-3)
