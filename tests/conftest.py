"""Shared test fixtures: small rendered sky images (no real data needed)."""

import numpy as np
import pytest


def render_sky(h=320, w=320, *, seed=0, n_stars=60, blob=True, sky=0.08, noise=0.01):
    """Linear RGB sky: Gaussian stars on noise plus (optionally) a faint extended red nebula.

    Returns the image and the nebula's true box (x0, y0, x1, y1) or None.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w, 3), sky, np.float32)
    box = None
    if blob:
        cx, cy, sx, sy = w * 0.55, h * 0.45, w * 0.14, h * 0.10
        neb = 0.12 * np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
        img += neb[:, :, None] * np.array([1.0, 0.45, 0.4], np.float32)
        box = (cx - 2.2 * sx, cy - 2.2 * sy, cx + 2.2 * sx, cy + 2.2 * sy)
    for _ in range(n_stars):
        x, y = rng.uniform(5, w - 5), rng.uniform(5, h - 5)
        flux = rng.uniform(0.2, 3.0)
        s = 1.2
        img += (flux * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / s ** 2))[:, :, None]
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return img, box


@pytest.fixture
def sky_fits(tmp_path):
    """A linear RGB FITS cube with one extended object; returns (path, true_box)."""
    from astropy.io import fits

    img, box = render_sky()
    path = tmp_path / "field.fits"
    fits.PrimaryHDU(np.moveaxis(img, -1, 0), header=fits.Header({"EXPTIME": 600.0})).writeto(path)
    return path, box
