"""Diffuse emission on the starless image: significance maps and regions.

The starless image is reduced to a coarse *map* grid (one map pixel is a few
image pixels; diffuse light has no fine structure worth keeping) and turned
into two signals:

``lum``
    luminance, the mean of the channels — galaxies, reflection nebulae,
    globular clusters, bright emission nebulae;
``red``
    red excess ``R - (G + B) / 2`` — H-alpha emission nebulae, which in these
    smart-telescope images are faint, red or brownish, and often fill most of
    the frame while hardly lifting the luminance.

Each signal gets a sky model (:func:`.background.fit_sky_plane`, a plane fitted
to the faint part of the frame, so the nebula itself is not subtracted), is
smoothed with Gaussians of several widths (normalised convolution, so no-data
pixels do not bleed in), and is divided by the noise of the smoothed map at
that width, measured on the faint side of its histogram
(:func:`.background.negative_side_noise`). The per-pixel significance is the
maximum over widths, and the combined map the maximum over signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from .background import fit_sky_plane, negative_side_noise

__all__ = ["DiffuseMaps", "significance_maps", "Region", "find_regions"]


@dataclass
class DiffuseMaps:
    """Significance maps on the map grid (``(h, w)`` float32 each)."""

    sig: dict                       # signal name -> max-over-scales significance
    valid: np.ndarray               # bool, map pixels with data

    @cached_property
    def combined(self) -> np.ndarray:
        """Maximum over signals (computed once; the maps are not changed after construction)."""
        maps = list(self.sig.values())
        out = maps[0].copy()
        for m in maps[1:]:
            np.maximum(out, m, out=out)
        return out


def _smooth(img: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that ignores zero-weight pixels (normalised convolution)."""
    if sigma < 0.5:
        return img * (weight > 0)
    k = int(2 * round(3 * sigma) + 1)
    num = cv2.GaussianBlur(img * weight, (k, k), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(weight, (k, k), sigma, borderType=cv2.BORDER_REFLECT)
    return np.where(den > 0.05, num / np.maximum(den, 1e-6), 0.0).astype(np.float32)


def significance_maps(rgb: np.ndarray, valid: np.ndarray, scales=(1.0, 2.0, 4.0, 8.0), *,
                      signals=("lum", "red"), sky_cells: int = 12,
                      sky_quantile: float = 0.5, noise_floor: float = 1.0 / 255) -> DiffuseMaps:
    """Build the per-signal significance maps.

    Parameters
    ----------
    rgb : ndarray
        Starless image on the map grid, ``(h, w, 3)`` or ``(h, w)``, [0, 1].
    valid : ndarray of bool
        Map pixels with data.
    scales : sequence of float
        Gaussian sigmas in map pixels.
    noise_floor : float
        Smallest noise accepted, in display units. Heavily stretched 8-bit
        skies are so smooth once averaged that their measured noise tends to
        zero; the floor keeps the significance about what a person can see
        (a level or two of 255).
    """
    weight = valid.astype(np.float32)
    if rgb.ndim == 2:
        channels = {"lum": rgb}
    else:
        channels = {}
        if "lum" in signals:
            channels["lum"] = rgb.mean(axis=2)
        if "red" in signals:
            channels["red"] = rgb[:, :, 0] - 0.5 * (rgb[:, :, 1] + rgb[:, :, 2])
    sig = {}
    for name, m in channels.items():
        m = m.astype(np.float32)
        sky = fit_sky_plane(m, ~valid, cells=sky_cells, low_quantile=sky_quantile)
        r = (m - sky) * weight
        best = np.full(m.shape, -np.inf, np.float32)
        for s in scales:
            sm = _smooth(r, weight, s)
            n = negative_side_noise(sm[valid]) if valid.any() else 1.0
            best = np.fmax(best, sm / max(n, noise_floor))  # fmax: a NaN never wins, as before
        best[~valid] = 0.0
        sig[name] = best.astype(np.float32)
    return DiffuseMaps(sig=sig, valid=valid)


@dataclass
class Region:
    """A connected region of significant diffuse emission (map-grid units)."""

    x0: int
    y0: int
    x1: int
    y1: int
    area: int            # map pixels
    peak: float          # peak significance
    snr: float           # integrated significance (see find_regions)


def find_regions(sig: np.ndarray, valid: np.ndarray, *, low: float = 2.5, high: float = 5.0,
                 min_area: int = 12, close: int = 2) -> list[Region]:
    """Hysteresis threshold + morphology + connected components.

    Pixels above ``low`` form candidate regions (after a morphological closing
    of ``close`` px, which joins the patches of one nebula split by dust lanes
    and by the holes left by bright stars); a region is kept when some pixel
    reaches ``high`` and it covers at least ``min_area`` map pixels.

    The integrated significance is ``sqrt(sum(max(sig, 0)^2))`` over the region
    divided by ``sqrt(beam)`` with a beam of 4 pixels — a matched-filter S/N
    that grows with both brightness and extent.
    """
    cand = ((sig > low) & valid).astype(np.uint8)
    if close > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close + 1, 2 * close + 1))
        cand = cv2.morphologyEx(cand, cv2.MORPH_CLOSE, k) & valid.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    out = []
    for i in range(1, n):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < min_area:
            continue
        x0, y0 = int(stats[i, cv2.CC_STAT_LEFT]), int(stats[i, cv2.CC_STAT_TOP])
        x1, y1 = x0 + int(stats[i, cv2.CC_STAT_WIDTH]), y0 + int(stats[i, cv2.CC_STAT_HEIGHT])
        # Within the component's bounding box: a whole-map comparison per
        # component was most of a full frame's detection time.
        vals = sig[y0:y1, x0:x1][labels[y0:y1, x0:x1] == i]
        peak = float(vals.max())
        if peak < high:
            continue
        snr = float(np.sqrt(np.sum(np.maximum(vals, 0.0) ** 2) / 4.0))
        out.append(Region(x0, y0, x1, y1, area, peak, snr))
    return sorted(out, key=lambda r: -r.snr)
