"""Output writers: YOLO txt with confidence, JSON, annotated PNG."""

import json

import numpy as np

from dsodetect import Detection
from dsodetect.io import from_array, read_image
from dsodetect.outputs import DetectionResult, read_yolo, render_annotated, write_outputs


def _result():
    img = from_array(np.random.default_rng(0).uniform(size=(100, 200, 3)).astype(np.float32), name="sky.fits")
    dets = [Detection(10, 20, 60, 70, 0.4, method="t"), Detection(100, 10, 190, 90, 0.8, method="t",
                                                                    extras={"snr": np.float32(12.5)})]
    return DetectionResult(image=img, method="t", detections=dets, seconds=0.1)


def test_yolo_json_png_round_trip(tmp_path):
    res = _result()
    files = write_outputs(res, tmp_path, ("yolo", "json", "png"))
    assert sorted(f.name for f in files) == ["sky.json", "sky.png", "sky.txt"]
    lines = (tmp_path / "sky.txt").read_text().splitlines()
    assert lines[0] == "0 0.725000 0.500000 0.450000 0.800000 0.80000"  # best score first
    back = read_yolo(tmp_path / "sky.txt", 200, 100)
    np.testing.assert_allclose([back[1].x0, back[1].y0, back[1].x1, back[1].y1, back[1].score],
                               [10, 20, 60, 70, 0.4], atol=1e-3)
    js = json.loads((tmp_path / "sky.json").read_text())
    assert js["width"] == 200 and js["height"] == 100 and js["method"] == "t"
    assert js["detections"][1]["extras"]["snr"] == 12.5
    assert js["detections"][0]["box_normalized"] == [0.175, 0.45, 0.25, 0.5]
    assert js["observation"] == {}
    png = read_image(tmp_path / "sky.png")
    assert png.shape == (100, 200)


def test_json_keeps_observation_headers(tmp_path):
    from astropy.io import fits

    hdr = fits.Header({"OBJECT": "M 51", "EXPTIME": 600.0, "DATE-OBS": "2026-03-01T21:00:00", "FOO": 1})
    fits.PrimaryHDU(np.ones((32, 32), np.float32), header=hdr).writeto(tmp_path / "m51.fits")
    res = DetectionResult(image=read_image(tmp_path / "m51.fits"), method="t", detections=[])
    write_outputs(res, tmp_path, ("json",))
    obs = json.loads((tmp_path / "m51.json").read_text())["observation"]
    assert obs == {"OBJECT": "M 51", "DATE-OBS": "2026-03-01T21:00:00", "EXPTIME": 600.0}


def test_annotation_draws_boxes():
    res = _result()
    plain = render_annotated(res.image, [])
    drawn = render_annotated(res.image, res.detections)
    changed = np.any(plain != drawn, axis=2)
    assert changed[20, 10:60].mean() > 0.9  # the top edge of the first box
    assert not changed[50:60, 70:90].any()  # between the boxes nothing is drawn


def test_empty_detections_write_empty_txt(tmp_path):
    res = _result()
    res.detections = []
    write_outputs(res, tmp_path, ("yolo",))
    assert (tmp_path / "sky.txt").read_text() == ""


def test_heatmap_extra_is_the_overlay_without_boxes(tmp_path):
    from dsodetect.detection import Product
    from dsodetect.outputs import heatmap_overlay

    res = _result()
    heat = np.zeros((100, 200), np.float32)
    heat[20:70, 10:60] = 0.8
    res.products["heatmap"] = Product(heat, kind="heatmap")
    write_outputs(res, tmp_path, ("png",), extras=True)
    extra = read_image(tmp_path / "sky.heatmap.png").data
    annotated = read_image(tmp_path / "sky.png").data
    # The annotated image is drawn on the overlay; the extra must stay the bare overlay (one drawing serves both).
    np.testing.assert_allclose(extra, heatmap_overlay(res.image, heat) / 255.0, atol=1e-6)
    assert not np.allclose(extra, annotated)
    np.testing.assert_array_equal(np.load(tmp_path / "sky.heatmap.npy"), heat)
