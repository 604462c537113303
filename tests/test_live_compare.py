"""`compare` registers the two stacks by their stars first, reports the overlap, refuses two different fields."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from dsodetect.detection import Detection
from dsodetect.live.compare import FieldMismatch, compare_stacks, format_comparison

H, W = 300, 400


def _field(path, *, seed, shift=(0.0, 0.0), angle_deg=0.0, objects=((200, 150),), seconds=600, stars_seed=None):
    """A stack: 80 stars (positions from ``stars_seed``) moved by a rotation about the centre and a shift,
    Gaussian objects at the given (unmoved) sky positions, noise."""
    rng = np.random.default_rng(stars_seed if stars_seed is not None else seed)
    sky_xy = rng.uniform([10, 10], [W - 10, H - 10], (80, 2))
    flux = rng.uniform(300, 3000, 80)
    th = np.radians(angle_deg)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.array([W / 2, H / 2])
    move = lambda p: (np.asarray(p, float) - c) @ rot.T + c + np.asarray(shift)
    y, x = np.mgrid[0:H, 0:W]
    img = np.full((H, W), 100.0)
    for (sx, sy), f in zip(move(sky_xy), flux):
        img += f * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 1.3 ** 2))
    for ox, oy in move(np.array(objects, float).reshape(-1, 2)):
        img += 40 * np.exp(-((x - ox) ** 2 + (y - oy) ** 2) / (2 * 12.0 ** 2))
    img += np.random.default_rng(seed + 100).normal(0, 3.0, img.shape)
    fits.PrimaryHDU(img.astype(np.float32), header=fits.Header({"TOTALEXP": seconds})).writeto(path)
    return path


class Blobs:
    """Finds the Gaussian objects: boxes around the broad maxima once a grey opening has taken the stars out."""

    name = "blobs"

    def detect(self, image):
        import cv2
        import sep

        from scipy.ndimage import grey_opening

        g = cv2.GaussianBlur(grey_opening(image.gray(), size=(9, 9)), (0, 0), 4)  # stars out, blobs stay
        bkg = sep.Background(np.ascontiguousarray(g))
        objs = sep.extract(g - bkg.back(), 8, err=bkg.globalrms, minarea=200)
        return [Detection(o["x"] - 20, o["y"] - 20, o["x"] + 20, o["y"] + 20, score=0.8) for o in objs]


def test_shifted_and_rotated_stacks_are_registered_by_their_stars(tmp_path):
    a = _field(tmp_path / "a.fits", seed=1, stars_seed=7, objects=[(200, 150)], seconds=600)
    b = _field(tmp_path / "b.fits", seed=2, stars_seed=7, shift=(18, -11), angle_deg=2.0,
               objects=[(200, 150), (90, 80)], seconds=3600)
    report = compare_stacks(a, b, [Blobs()])
    assert report["aligned_by"] == "stars"
    reg = report["registration"]
    assert reg["matched_stars"] >= 10
    assert reg["rotation_deg"] == pytest.approx(-2.0, abs=0.2)  # B -> A undoes B's rotation
    assert 0.8 < report["overlap"] < 0.97  # shifted by 18 x 11 px: most, not all, of A is covered
    assert len(report["kept"]) == 1 and report["kept"][0]["iou"] > 0.6  # the same object, through the transform
    assert len(report["gained"]) == 1 and not report["lost"]
    text = format_comparison(report)
    assert "aligned by stars" in text and "of A's frame" in text


def test_a_different_field_is_refused_with_one_clear_line(tmp_path):
    a = _field(tmp_path / "m51.fits", seed=1, stars_seed=7)
    b = _field(tmp_path / "m81.fits", seed=2, stars_seed=99)
    with pytest.raises(FieldMismatch) as err:
        compare_stacks(a, b, [Blobs()])
    msg = str(err.value)
    assert "\n" not in msg and "m81.fits" in msg and "not the same field as m51.fits" in msg


def test_different_field_through_the_cli_exits_1_with_one_line(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    a = _field(tmp_path / "m51.fits", seed=1, stars_seed=7)
    b = _field(tmp_path / "m81.fits", seed=2, stars_seed=99)
    r = CliRunner().invoke(app, ["compare", str(a), str(b)])
    assert r.exit_code == 1, r.output
    assert "not the same field" in r.output and "Traceback" not in r.output


def test_starless_same_size_stacks_fall_back_to_pixels_and_say_so(tmp_path):
    from test_live_support import ToyDetector, write_stack

    a = write_stack(tmp_path / "short.fits", 40, seed=1)
    b = write_stack(tmp_path / "long.fits", 2560, seed=2)
    report = compare_stacks(a, b, [ToyDetector()])
    assert report["aligned_by"] == "pixels" and report["overlap"] == 1.0
    assert "too few stars" in format_comparison(report)
