"""Render star fields from astrometry.net's own index stars, for tests and benchmarks.

A field is a TAN projection at a chosen pointing, pixel scale and rotation;
the stars are the Tycho-2 stars of the finest installed index (read with
astrometry.net's ``query-starkd``), drawn as Gaussian PSFs, plus optional
fainter random stars that are in no index (as a real frame has) and the
OpenNGC objects of the field as elliptical exponential discs. Photometry is
plausible, not calibrated: the point is geometry the solver must recover.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dsodetect.io.wcs import tan_wcs as make_wcs  # public here for the tests
from dsodetect.telescopes import PRESETS, pixel_scale
from dsodetect.identify.catalog import cone_search
from dsodetect.identify.geometry import ellipse_box, object_ellipse
from dsodetect.identify.geometry import pixel_scale as wcs_pixel_scale
from dsodetect.identify.solver import find_index_files

__all__ = ["RenderedField", "make_wcs", "index_stars", "render_field", "hint_header"]


@dataclass
class RenderedField:
    """A rendered frame and its truth.

    Attributes
    ----------
    data : ndarray
        ``(H, W)`` float32 linear pixels.
    wcs : astropy.wcs.WCS
        The true solution (0-based array pixels, row 0 first).
    stars : ndarray
        ``(N, 3)`` x, y, V magnitude of the index stars drawn.
    objects : list of (CatalogObject, tuple)
        Catalog objects drawn, with their pixel box ``(x0, y0, x1, y1)``.
    """

    data: np.ndarray
    wcs: object
    stars: np.ndarray
    objects: list = field(default_factory=list)

    def image(self, header: str = "none"):
        """The frame as a :class:`dsodetect.io.Image`.

        ``header``: ``"none"`` (no header), ``"wcs"`` (full TAN WCS) or
        ``"hint"`` (``RA``/``DEC``/``FOCALLEN``/``XPIXSZ`` as Seestar writes).
        """
        from dsodetect.io import from_array

        img = from_array(self.data, name="rendered")
        if header == "wcs":
            img.header = self.wcs.to_header()
            img.wcs = self.wcs
        elif header == "hint":
            img.header = hint_header(self.wcs)
        elif header != "none":
            raise ValueError(f"header must be none, wcs or hint, not {header!r}")
        return img


def hint_header(wcs, focal_mm: float = 250.0):
    """A Seestar-like header without WCS: ``RA``/``DEC`` of the centre, ``FOCALLEN``, ``XPIXSZ``."""
    from astropy.io import fits

    scale = wcs_pixel_scale(wcs)
    w, h = wcs.pixel_shape
    ra, dec = wcs.all_pix2world([[(w - 1) / 2, (h - 1) / 2]], 0)[0]
    hdr = fits.Header()
    hdr["RA"], hdr["DEC"] = float(ra), float(dec)
    hdr["FOCALLEN"] = focal_mm
    hdr["XPIXSZ"] = scale * focal_mm / pixel_scale(1.0, 1.0)
    return hdr


def index_stars(ra: float, dec: float, radius_deg: float, index_file=None) -> np.ndarray:
    """``(N, 3)`` RA, Dec, V magnitude of index stars within ``radius_deg``.

    Uses the finest-scale installed index (most stars) unless ``index_file``
    is given. Raises FileNotFoundError when astrometry.net or its indexes are
    missing.
    """
    from astropy.io import fits

    if index_file is None:
        files = find_index_files()
        if not files:
            raise FileNotFoundError("no astrometry.net index files found")
        index_file = files[0]
    with tempfile.TemporaryDirectory(prefix="dsodetect-starkd-") as tmp:
        out = Path(tmp) / "stars.fits"
        cmd = ["query-starkd", "-r", f"{ra % 360.0:.8f}", "-d", f"{dec:.8f}", "-R", f"{radius_deg:.6f}",
               "-T", "-o", str(out), str(index_file)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        except FileNotFoundError:
            raise FileNotFoundError("query-starkd not found (apt-get install astrometry.net)") from None
        with fits.open(out) as hdul:
            t = hdul[1].data
            mag = t["MAG_VT"] if "MAG_VT" in t.names else np.full(len(t), 10.0)
            return np.column_stack([t["RA"], t["DEC"], mag]).astype(np.float64)


def _add_gaussian(img, x, y, flux, sigma):
    h, w = img.shape
    r = int(np.ceil(4 * sigma))
    x0, x1 = max(int(x) - r, 0), min(int(x) + r + 2, w)
    y0, y1 = max(int(y) - r, 0), min(int(y) + r + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    img[y0:y1, x0:x1] += flux / (2 * np.pi * sigma**2) * np.exp(
        -((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


def _add_disc(img, x, y, flux, a_px, q, theta):
    """Exponential disc, scale length a/3 along the major axis, ``theta`` from +x."""
    h, w = img.shape
    hl = max(a_px / 3.0, 0.7)
    r = int(np.ceil(min(3.5 * a_px, 2 * max(h, w))))
    x0, x1 = max(int(x) - r, 0), min(int(x) + r + 2, w)
    y0, y1 = max(int(y) - r, 0), min(int(y) + r + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dx, dy = xx - x, yy - y
    c, s = np.cos(theta), np.sin(theta)
    u, v = dx * c + dy * s, (-dx * s + dy * c) / q
    img[y0:y1, x0:x1] += flux / (2 * np.pi * hl**2 * q) * np.exp(-np.hypot(u, v) / hl)


def render_field(ra: float, dec: float, *, preset: str | None = None, scale_arcsec: float | None = None,
                 width: int | None = None, height: int | None = None, rotation_deg: float = 0.0,
                 flip: bool = False, fwhm_px: float = 2.5, extra_stars_per_deg2: float = 200.0,
                 draw_objects: bool = True, sky: float = 50.0, noise: float = 1.0,
                 seed: int = 0, index_file=None) -> RenderedField:
    """Render a frame at a pointing.

    Parameters
    ----------
    ra, dec : float
        Field centre, degrees.
    preset : {'stellina', 'vespera', 'seestar'}, optional
        Takes scale and size from :data:`~dsodetect.identify.hints.PRESETS`;
        explicit ``scale_arcsec``/``width``/``height`` override it.
    rotation_deg, flip : float, bool
        Camera angle and mirror parity.
    extra_stars_per_deg2 : float
        Random stars fainter than the index's faintest, in no index.
    draw_objects : bool
        Draw the OpenNGC objects of the field with a magnitude and a size.
    seed : int
        For the noise and the extra stars.
    """
    if preset is not None:
        p = PRESETS[preset.lower()]
        scale_arcsec = scale_arcsec or p.scale
        width, height = width or p.width, height or p.height
    if not (scale_arcsec and width and height):
        raise ValueError("give a preset or scale_arcsec, width and height")
    rng = np.random.default_rng(seed)
    wcs = make_wcs(ra, dec, scale_arcsec, width, height, rotation_deg, flip)
    img = np.zeros((height, width), np.float64)
    sigma = fwhm_px / 2.3548
    radius = 0.5 * np.hypot(width, height) * scale_arcsec / 3600.0 * 1.05
    stars = index_stars(ra, dec, radius, index_file)
    xy = wcs.all_world2pix(stars[:, :2], 0) if len(stars) else np.zeros((0, 2))
    inside = (xy[:, 0] > -10) & (xy[:, 0] < width + 10) & (xy[:, 1] > -10) & (xy[:, 1] < height + 10)
    xy, mags = xy[inside], stars[inside, 2]
    zp_flux = 2.0e4  # total counts of a V = 10 star
    for (x, y), m in zip(xy, mags):
        _add_gaussian(img, x, y, zp_flux * 10 ** (-0.4 * (m - 10.0)), sigma)
    area = width * height * (scale_arcsec / 3600.0) ** 2
    n_extra = rng.poisson(extra_stars_per_deg2 * area)
    faint = float(mags.max()) if len(mags) else 11.0
    for x, y, m in zip(rng.uniform(0, width, n_extra), rng.uniform(0, height, n_extra),
                       rng.uniform(faint - 1.5, faint + 3.0, n_extra)):
        _add_gaussian(img, x, y, zp_flux * 10 ** (-0.4 * (m - 10.0)), sigma)
    objects = []
    if draw_objects:
        for obj in cone_search(ra, dec, radius):
            if obj.mag is None or obj.major_arcmin is None or obj.type == "DrkN":
                continue
            ox, oy, a, b, theta = object_ellipse(obj, wcs)
            if not (0 <= ox < width and 0 <= oy < height):
                continue
            box = ellipse_box(ox, oy, a, b, theta)
            a_px = obj.major_arcmin * 60.0 / scale_arcsec / 2.0
            q = (obj.minor_arcmin or obj.major_arcmin) / obj.major_arcmin
            _add_disc(img, ox, oy, zp_flux * 10 ** (-0.4 * (obj.mag - 10.0)), a_px, max(q, 0.1), theta)
            objects.append((obj, box))
    img += sky
    img += rng.normal(0.0, noise, img.shape)
    stars_xy = np.column_stack([xy, mags]) if len(mags) else np.zeros((0, 3))
    return RenderedField(img.astype(np.float32), wcs, stars_xy, objects)
