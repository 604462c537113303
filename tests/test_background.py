"""The sky gradient: a polynomial fitted to the faint sky, subtracted from linear data on request (--flatten)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dsodetect.io import from_array, read_image
from dsodetect.io.background import fit_sky, flatten_background


def _field(h=300, w=450, seed=0):
    """Linear sky with a quadratic glow towards one corner, noise, and a nebula covering ~6 % of the frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    glow = 0.4 * ((xx / w) ** 2 + 0.5 * (yy / h) ** 2)
    neb = 0.3 * np.exp(-(((xx - 0.3 * w) / 40) ** 2 + ((yy - 0.6 * h) / 30) ** 2))
    sky = 0.1 + glow + rng.normal(0, 0.005, (h, w))
    return sky.astype(np.float32), glow, neb.astype(np.float32)


def test_a_quadratic_glow_is_fitted_under_a_nebula():
    sky, glow, neb = _field()
    model = fit_sky(sky + neb, degree=2)
    far = neb < 0.01
    assert np.abs(model - (0.1 + glow))[far].max() < 0.02  # the glow spans 0.6
    assert np.abs(model - (0.1 + glow))[neb > 0.2].max() < 0.03, "the nebula does not lift the sky"
    plane = fit_sky(sky + neb, degree=1)
    assert np.abs(plane - (0.1 + glow))[far].max() > 0.05, "a plane cannot follow the glow"


def test_flatten_keeps_the_objects_and_the_sky_level():
    sky, glow, neb = _field()
    rgb = np.stack([sky + neb, sky + 0.5 * neb, sky], axis=2)
    flat = flatten_background(rgb)
    assert flat.shape == rgb.shape and flat.dtype == np.float32
    assert not np.shares_memory(flat, rgb)
    for c, k in enumerate((1.0, 0.5, 0.0)):
        rest = flat[..., c] - k * neb  # what is left of the sky: flat, where it spanned 0.6
        blocks = np.median(rest.reshape(10, 30, 15, 30), axis=(1, 3))
        assert np.ptp(blocks) < 0.03
        assert np.median(rest) == pytest.approx(np.median(0.1 + glow), abs=0.01), "the sky's median level kept"


def test_no_data_is_left_out_of_the_fit():
    sky, glow, _ = _field()
    data = sky.copy()
    mask = np.zeros(sky.shape, bool)
    mask[:, :120] = True  # a black rotation band
    data[mask] = 0.0
    model = fit_sky(data, mask, degree=2)
    assert np.abs(model - (0.1 + glow))[~mask].max() < 0.03


def test_too_few_sky_blocks_gives_a_flat_sky():
    img = np.random.default_rng(1).normal(0.2, 0.01, (40, 40)).astype(np.float32)
    model = fit_sky(img, degree=2, cells=2)  # 4 samples for 6 coefficients
    assert np.ptp(model) == 0 and model[0, 0] == pytest.approx(np.median(img), abs=1e-6)
    with pytest.raises(ValueError, match="degree"):
        fit_sky(img, degree=-1)


def test_image_flattened_only_changes_linear_data():
    sky, _, _ = _field()
    linear = from_array(sky)
    flat = linear.flattened()
    assert flat is not linear and "flattened" in flat.meta and np.array_equal(linear.data, sky)
    assert np.std(flat.data) < 0.5 * np.std(linear.data)
    shown = from_array(np.clip(sky, 0, 1), stretched=True)
    assert shown.flattened() is shown, "a stretched JPEG's gradient is not additive: left alone"


def test_detect_flatten_reaches_the_detector(tmp_path):
    """--flatten through the pipeline (detect) and the live session (watch)."""
    from astropy.io import fits
    from typer.testing import CliRunner

    from dsodetect.cli import app
    from dsodetect.pipeline import run_batch

    sky, _, neb = _field()
    path = tmp_path / "m1.fits"
    fits.PrimaryHDU((1000 * (sky + neb)).astype(np.float32)).writeto(path)

    class Spread:
        name = "spread"

        def __init__(self):
            self.seen = []

        def detect(self, image):
            self.seen.append(float(np.std(image.data)))
            return []

    det = Spread()
    run_batch([path], det, flatten=False)
    run_batch([path], det, flatten=True)
    assert det.seen[1] < 0.5 * det.seen[0]

    from dsodetect.live.notify import Notifier
    from dsodetect.live.session import LiveSession, SessionConfig

    (tmp_path / "in").mkdir()
    path.rename(tmp_path / "in" / "m1.fits")
    live = Spread()
    s = LiveSession(SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in", flatten=True), [live],
                    notifier=Notifier(desktop=False))
    s.process(tmp_path / "in" / "m1.fits")
    assert live.seen and live.seen[0] == pytest.approx(det.seen[1], rel=1e-5)

    res = CliRunner().invoke(app, ["detect", str(tmp_path / "in"), "--method", "classical", "--flatten",
                                   "--out", str(tmp_path / "out"), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "polynomial degree 2" in json.loads((tmp_path / "out" / "m1.json").read_text())["flattened"]
    res = CliRunner().invoke(app, ["detect", str(tmp_path / "in"), "--method", "classical",
                                   "--out", str(tmp_path / "plain"), "--format", "json"])
    assert "flattened" not in json.loads((tmp_path / "plain" / "m1.json").read_text())
    assert read_image(tmp_path / "in" / "m1.fits").flattened().meta["flattened"]
