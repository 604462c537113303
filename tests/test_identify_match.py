"""Naming detections through a header WCS; no-solution paths; CLI and detector wrapper (no astrometry.net)."""

import json

import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from dsodetect.detection import Detection
from dsodetect.identify import identify, lookup, match_score, solve
from dsodetect.identify.geometry import object_box
from identify_testfield import make_wcs
from dsodetect.io import from_array, read_image

W, H, SCALE = 640, 900, 4.0  # 43' x 60' field, small enough to be fast


def _leo_fits(tmp_path, header_extra=None, name="leo.fits"):
    """Noise frame with a header TAN WCS centred between M 66 and M 65, rotated 25 degrees."""
    m66, m65 = lookup("M 66"), lookup("M 65")
    wcs = make_wcs((m66.ra + m65.ra) / 2, (m66.dec + m65.dec) / 2 + 0.05, SCALE, W, H, rotation_deg=25)
    hdr = wcs.to_header()
    for k, v in (header_extra or {}).items():
        hdr[k] = v
    data = np.random.default_rng(0).normal(100, 3, (H, W)).astype(np.float32)
    path = tmp_path / name
    fits.PrimaryHDU(data, header=hdr).writeto(path)
    return path, wcs


def _box(name, wcs, grow=1.2, shift=(0.0, 0.0)):
    x0, y0, x1, y1 = object_box(lookup(name), wcs)
    cx, cy = (x0 + x1) / 2 + shift[0], (y0 + y1) / 2 + shift[1]
    hw, hh = (x1 - x0) / 2 * grow, (y1 - y0) / 2 * grow
    return Detection(cx - hw, cy - hh, cx + hw, cy + hh, score=0.8)


def test_match_score_orders_sensible_cases():
    same = match_score((10, 10, 50, 50), (10, 10, 50, 50))
    inside = match_score((0, 0, 100, 100), (45, 45, 55, 55))
    corner = match_score((0, 0, 100, 100), (0, 0, 10, 10))
    disjoint = match_score((0, 0, 10, 10), (20, 20, 30, 30))
    assert same == pytest.approx(1.0)
    assert disjoint == 0.0
    assert same > inside > corner > 0.5


def test_header_wcs_names_detections_flags_uncatalogued_and_missing(tmp_path):
    path, wcs = _leo_fits(tmp_path)
    image = read_image(path)
    sol = solve(image)
    assert sol.ok and sol.source == "header" and sol.seconds == 0.0
    m66 = _box("M 66", image.wcs, grow=1.3, shift=(6, -4))  # a detector's loose box
    blank = Detection(20, 20, 60, 60, score=0.3)
    # Make sure the blank corner really holds no catalog object.
    report = identify(image, [m66, blank])
    assert m66.extras["names"][0] == "M 66"
    assert m66.extras["uncatalogued"] is False
    assert m66.extras["catalog"][0]["type"] == "G" and m66.extras["catalog"][0]["match_score"] >= 0.5
    assert m66.extras["description"].startswith("M 66 (NGC 3627): Galaxy")
    assert blank.extras["uncatalogued"] is True and blank.extras["names"] == []
    assert "no NGC/IC/Messier entry" in blank.extras["description"]
    assert report.uncatalogued == [1]
    missing = [o.designation for o in report.missing]
    assert "M 65" in missing and "M 66" not in missing
    assert "M 66" in [o.designation for o in report.expected]
    # RA/Dec of the box centre come from the WCS.
    assert abs(m66.extras["ra"] - lookup("M 66").ra) < 0.05
    d = report.to_dict()
    json.dumps(d)  # JSON-ready
    assert d["solution"]["source"] == "header" and d["detections"][0]["names"][0] == "M 66"
    assert any(line.startswith("M 65:") for line in report.lines())


def test_given_wcs_overrides_and_flipped_frames_still_name(tmp_path):
    m51 = lookup("M 51")
    wcs = make_wcs(m51.ra, m51.dec, 3.0, 500, 400, rotation_deg=140, flip=True)
    image = from_array(np.random.default_rng(1).normal(10, 1, (400, 500)))
    det = _box("M 51", wcs, grow=1.1)
    report = identify(image, [det], wcs=wcs)
    assert report.solution.source == "given"
    assert det.extras["names"][0] == "Whirlpool Galaxy (M 51)" and det.extras["ids"][0] == "NGC5194"
    assert "NGC 5195" in det.extras["names"]  # the companion lies inside the box


def test_longer_exposure_expects_fainter_objects(tmp_path):
    path, _ = _leo_fits(tmp_path)
    image = read_image(path)
    short = identify(image, [], exposure_s=60)
    long = identify(image, [], exposure_s=36000)
    assert set(o.name for o in short.expected) < set(o.name for o in long.expected)


def test_no_solution_leaves_detections_unnamed(monkeypatch):
    # Pure noise: no header, too few stars to solve; must not raise.
    image = from_array(np.random.default_rng(2).normal(100, 1, (200, 300)).astype(np.float32))
    det = Detection(10, 10, 50, 50)
    report = identify(image, [det], timeout=5)
    assert not report.solution.ok
    assert report.solution.message and "\n" not in report.solution.message
    assert "names" not in det.extras and report.matches == [[]]
    assert report.lines()[0].startswith("not identified:")
    assert report.to_dict()["solution"]["solved"] is False


def test_missing_astrometry_gives_install_command(monkeypatch):
    import dsodetect.identify.solver as solve_mod

    monkeypatch.setattr(solve_mod.shutil, "which", lambda name: None)
    image = from_array(np.random.default_rng(3).normal(100, 1, (200, 300)).astype(np.float32))
    sol = solve(image)
    assert not sol.ok
    assert "apt-get install astrometry.net" in sol.message


def test_cli_identify_with_prediction_folder(tmp_path):
    from dsodetect.cli import app
    from dsodetect.outputs import write_yolo

    path, wcs = _leo_fits(tmp_path, {"EXPTIME": 10.0, "STACKCNT": 60})
    preds = tmp_path / "preds"
    preds.mkdir()
    write_yolo([_box("M 66", wcs)], W, H, preds / "leo.txt")
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = garbage")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["identify", str(path), str(tmp_path / "broken.fits"),
                                   "--detections", str(preds), "--out", str(out)])
    assert res.exit_code == 1  # the broken file fails, the good one is identified
    assert "Traceback" not in res.output
    assert "M 66 (NGC 3627)" in res.output and "M 65:" in res.output
    data = json.loads((out / "leo.identify.json").read_text())
    assert data["detections"][0]["names"][0] == "M 66"
    assert data["exposure_s"] == 600.0
    assert (out / "leo.identify.png").stat().st_size > 1000


def test_pipeline_identify_stage_puts_names_into_outputs(tmp_path):
    from dsodetect.pipeline import process_file

    path, wcs = _leo_fits(tmp_path)

    class Fake:
        name = "fake"

        def detect(self, image):
            return [_box("M 65", image.wcs)]

    result = process_file(path, Fake(), identifier=identify, out_dir=tmp_path / "out", formats=("json", "png"))
    assert result.detections[0].extras["names"][0] == "M 65"
    assert result.identification.solution.ok
    saved = json.loads((tmp_path / "out" / "leo.json").read_text())
    assert saved["detections"][0]["extras"]["names"][0] == "M 65"
    report = json.loads((tmp_path / "out" / "leo.identify.json").read_text())
    assert "M 66" in [m["name"] for m in report["missing"]]


def test_pipeline_identify_stage_reports_unsolvable_images_and_goes_on(tmp_path):
    from functools import partial

    from dsodetect.pipeline import process

    class Fake:
        name = "fake"

        def detect(self, image):
            return [Detection(5, 5, 30, 30, score=0.5)]

    image = from_array(np.random.default_rng(4).normal(100, 1, (120, 160)).astype(np.float32), name="noise")
    result = process(image, Fake(), identifier=partial(identify, timeout=5), out_dir=tmp_path)
    assert len(result.detections) == 1 and "names" not in result.detections[0].extras
    assert not result.identification.solution.ok
    msg = result.identification.solution.message
    assert msg and "\n" not in msg
    assert (tmp_path / "noise.identify.json").is_file()
