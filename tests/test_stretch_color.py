"""Colour FITS look like the app's JPEG: background neutralisation + one linked stretch (io.stretch.color_stretch)."""

from pathlib import Path

import cv2
import numpy as np

from dsodetect.io import read_image
from dsodetect.io.stretch import auto_stretch, color_stretch, neutralize_background

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _hue_sat(rgb, sel):
    hsv = cv2.cvtColor((np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2HSV_FULL).astype(float)
    h = hsv[..., 0] / 256 * 2 * np.pi
    w = hsv[..., 1][sel] / 255.0
    return float(np.degrees(np.angle(np.sum(w * np.exp(1j * h[sel])))) % 360), float(w.mean())


def _dhue(a, b):
    return abs((a - b + 180) % 360 - 180)


def _red_nebula_under_orange_sky(seed=0):
    rng = np.random.default_rng(seed)
    h, w = 200, 300
    y, x = np.mgrid[0:h, 0:w]
    neb = np.exp(-((x - 150) ** 2 + (y - 100) ** 2) / (2 * 45.0 ** 2))
    img = np.empty((h, w, 3), np.float32)
    sky = np.array([300.0, 220.0, 120.0])  # a sodium-orange light-pollution cast
    colour = np.array([80.0, 12.0, 20.0])   # H-alpha red with a little H-beta/OIII
    for c in range(3):
        img[..., c] = sky[c] + colour[c] * neb + rng.normal(0, 3.0, (h, w))
    return img, neb


def test_sky_comes_out_neutral_and_the_nebula_red():
    img, neb = _red_nebula_under_orange_sky()
    out = color_stretch(img)
    sky = out[neb < 0.01].mean(axis=0)
    assert np.ptp(sky) < 0.02, sky  # grey sky
    hue, sat = _hue_sat(out, neb > 0.5)
    assert _dhue(hue, 0.0) < 25 and sat > 0.2, (hue, sat)  # red, and saturated
    # The unlinked stretch (each channel on its own) greys the nebula out.
    hue_u, sat_u = _hue_sat(auto_stretch(img, linked=False), neb > 0.5)
    assert sat_u < sat


def test_neutralize_leaves_mono_alone():
    mono = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert neutralize_background(mono) is not None and np.array_equal(neutralize_background(mono), mono)
    assert color_stretch(mono).shape == mono.shape


def test_shipped_fits_matches_its_app_jpeg_in_hue():
    fits = read_image(EXAMPLES / "NGC7000_vespera.fits.gz")
    jpg = np.asarray(read_image(EXAMPLES / "NGC7000_vespera_app.jpg").display(), np.float32)
    lum = jpg.mean(axis=2)
    sel = (lum > np.percentile(lum, 60)) & (lum < np.percentile(lum, 99.0))  # the nebula, not the stars
    h_jpg, _ = _hue_sat(jpg, sel)
    h_before, _ = _hue_sat(auto_stretch(fits.data, mask=fits.mask, linked=False), sel)
    h_after, _ = _hue_sat(color_stretch(fits.data, mask=fits.mask), sel)
    # Measured 2026-12-05: 108 deg before (lavender-grey), 27 deg after (red-orange vs the JPEG's red).
    assert _dhue(h_before, h_jpg) > 90
    assert _dhue(h_after, h_jpg) < 35


def test_large_frames_are_sampled_the_same_with_or_without_an_empty_mask():
    """A frame over the statistics sample size: the strided view (no mask) and the masked copy pick the same pixels."""
    img, _ = _red_nebula_under_orange_sky()
    big = np.tile(img, (4, 3, 1))  # 800 x 900 px: 720,000 pixels, over the 500,000 of the sample
    none, empty = color_stretch(big), color_stretch(big, np.zeros(big.shape[:2], bool))
    assert none.dtype == np.float32 and np.array_equal(none, empty)
    masked = np.zeros(big.shape[:2], bool)
    masked[:400] = True  # statistics from the lower half only: the same sky, so nearly the same stretch
    assert np.abs(color_stretch(big, masked) - none).max() < 0.02
    assert 0.0 <= none.min() and none.max() <= 1.0
