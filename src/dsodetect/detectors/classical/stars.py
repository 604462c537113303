"""Point sources: detection, a stellarity test, flux-dependent masks, inpainting.

Stars are found with SExtractor's algorithm (the ``sep`` package) on the
luminance minus a *small*-mesh background, so that stars sitting on a nebula
are found too. Each source is then judged by its size against the stars of
the same frame:

* in a display-stretched image a star's apparent half-light radius ``r50``
  grows with its brightness, so the reference is the **stellar locus**: the
  running 40th percentile of ``r50`` against log flux (isotonic), with its
  robust spread; most sources are stars, so it follows them;
* a source is a **star** when ``r50 <= max(stellar_ratio * locus, locus + 3
  spread)``, or when its core is saturated over a small area compared with its
  footprint (a star's profile is steep; a cluster or galaxy core saturates
  over a plateau);
* anything larger (compact galaxies, globular and open-cluster cores, knots of
  nebula) is **not** a star, is left in the image, and feeds the diffuse map.

Star masks are discs whose radius grows with the star: the radius of its
detection footprint (x1.5 when saturated) plus a margin that grows with the
log of its peak, so halos are covered. The masked pixels are filled by
OpenCV's Telea inpainting.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from astropy.stats import mad_std

__all__ = ["StarCatalog", "detect_point_sources", "star_mask", "inpaint"]


@dataclass
class StarCatalog:
    """Sources found by :func:`detect_point_sources` (arrays of equal length)."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    peak: np.ndarray
    r50: np.ndarray          # half-light radius, px
    r_foot: np.ndarray       # radius of the footprint above threshold, px
    saturated: np.ndarray    # bool
    is_star: np.ndarray      # bool
    r50_psf: float           # PSF half-light radius, px
    rms: float = 1.0         # background noise of the detection image

    def __len__(self) -> int:
        return int(self.x.size)

    @classmethod
    def empty(cls, r50_psf: float = 1.5) -> "StarCatalog":
        z = np.zeros(0)
        return cls(z, z, z, z, z, z, z.astype(bool), z.astype(bool), r50_psf)

    def select(self, keep: np.ndarray) -> "StarCatalog":
        """Sub-catalog of the sources where ``keep`` is True."""
        return StarCatalog(self.x[keep], self.y[keep], self.flux[keep], self.peak[keep],
                           self.r50[keep], self.r_foot[keep], self.saturated[keep],
                           self.is_star[keep], self.r50_psf, self.rms)


def detect_point_sources(resid: np.ndarray, rms: float, mask: np.ndarray | None = None, *,
                         thresh: float = 3.0, minarea: int = 3, saturation: float = 0.97,
                         raw: np.ndarray | None = None, stellar_ratio: float = 1.6,
                         max_sources: int = 20000) -> StarCatalog:
    """Find sources and decide which are stars.

    Parameters
    ----------
    resid : ndarray
        Luminance minus a local background, float32.
    rms : float
        Background noise (sigma) of ``resid``.
    mask : ndarray of bool, optional
        No-data pixels to ignore.
    thresh : float
        Detection threshold in units of ``rms``.
    saturation : float
        Pixel level (in ``raw``) at or above which a core counts as saturated.
    raw : ndarray, optional
        Pixels before background subtraction (for the saturation test).
    stellar_ratio : float
        Sources whose half-light radius exceeds this multiple of the PSF's
        are extended (not stars).
    """
    import sep

    data = np.ascontiguousarray(resid, dtype=np.float32)
    sep.set_extract_pixstack(max(300000, data.size))
    sep.set_sub_object_limit(4096)
    try:
        objs = sep.extract(data, thresh, err=max(rms, 1e-6), mask=mask, minarea=minarea,
                           deblend_cont=0.005, clean=False)
    except Exception:  # sep raises on pathological frames (e.g. too many objects)
        try:
            objs = sep.extract(data, thresh * 2, err=max(rms, 1e-6), mask=mask,
                               minarea=minarea, deblend_nthresh=8, clean=False)
        except Exception:
            return StarCatalog.empty()
    if len(objs) == 0:
        return StarCatalog.empty()
    if len(objs) > max_sources:
        objs = objs[np.argsort(-objs["flux"])[:max_sources]]
    x, y = objs["x"].astype(np.float64), objs["y"].astype(np.float64)
    flux = np.maximum(objs["flux"].astype(np.float64), 1e-9)
    peak = objs["peak"].astype(np.float64)
    npix = objs["npix"].astype(np.float64)
    r_foot = np.sqrt(npix / np.pi)
    rmax = np.clip(6.0 * np.sqrt(objs["a"] * objs["b"]) + 2.0, 3.0, 60.0)
    r50, flag = sep.flux_radius(data, x, y, rmax, 0.5, normflux=flux, subpix=1)
    r50 = np.where(np.isfinite(r50) & (r50 > 0), r50, r_foot)
    if raw is not None:
        xi = np.clip(np.round(x).astype(int), 0, raw.shape[1] - 1)
        yi = np.clip(np.round(y).astype(int), 0, raw.shape[0] - 1)
        saturated = raw[yi, xi] >= saturation
    else:
        saturated = np.zeros(x.size, bool)

    # PSF size from unsaturated, clean, moderately bright sources.
    snr = peak / max(rms, 1e-6)
    good = (~saturated) & (snr > 8) & (objs["flag"] == 0)
    if good.sum() < 5:
        good = (~saturated) & (snr > 5)
    r50_psf = float(np.median(r50[good])) if good.sum() >= 3 else float(np.median(r50))
    r50_psf = max(r50_psf, 0.6)

    # Stellarity against the stellar locus. In display-stretched images a
    # star's apparent size grows with its brightness (the stretch lifts its
    # wings), so the PSF is not one size: the locus is the running median of
    # r50 as a function of log flux, with its robust spread. Most sources are
    # stars, so the median follows them; a source is extended when it lies
    # well above the locus at its flux.
    locus, spread = _stellar_locus(np.log10(flux), r50)
    floor = np.maximum(r50_psf, locus)
    ratio = np.where(snr < 6, stellar_ratio * 1.25, stellar_ratio)
    is_star = r50 <= np.maximum(ratio * floor, floor + 3.0 * spread)
    # Elongated sources above the locus (edge-on galaxies) are never stars;
    # trailed stars are elongated too but keep the locus size.
    elong = ((objs["b"] / np.maximum(objs["a"], 1e-6) < 0.5) & (r_foot > 3.0)
             & (r50 > 1.25 * floor))
    # Saturated: a star's flat core is small compared with its footprint
    # (steep profile); a galaxy or cluster core saturates over a wide plateau.
    sat = np.flatnonzero(saturated)
    if sat.size:  # only saturated sources need their plateau measured
        sat_r = np.sqrt(np.maximum(_saturated_area(raw, x[sat], y[sat], saturation, rmax[sat]), 0) / np.pi)
        is_star[sat] |= sat_r <= 0.45 * r_foot[sat] + 1.0
    is_star &= ~elong
    return StarCatalog(x=x, y=y, flux=flux, peak=peak, r50=r50, r_foot=r_foot,
                       saturated=saturated, is_star=is_star, r50_psf=r50_psf, rms=float(rms))


def _stellar_locus(logf: np.ndarray, r50: np.ndarray, per_bin: int = 40):
    """Running median of ``r50`` against log flux and its robust spread, per source."""
    n = logf.size
    if n < 2 * per_bin:
        med = float(np.median(r50)) if n else 1.0
        mad = float(mad_std(r50)) if n else 0.3
        return np.full(n, med), np.full(n, max(mad, 0.05 * med))
    order = np.argsort(logf)
    nb = int(np.clip(n // per_bin, 2, 12))
    edges = np.linspace(0, n, nb + 1).astype(int)
    cx, cm, cs = [], [], []
    for a, b in zip(edges[:-1], edges[1:]):
        idx = order[a:b]
        m = float(np.quantile(r50[idx], 0.4))  # stars outnumber galaxies: stay on their side
        cx.append(float(np.median(logf[idx])))
        cm.append(m)
        cs.append(max(float(np.median(np.abs(r50[idx] - m))) * 1.4826, 0.05 * m))
    # The locus only grows with flux: an isotonic (pool-adjacent-violators)
    # fit keeps one odd bin from bending it.
    cm = _isotonic(np.asarray(cm))
    locus = np.interp(logf, cx, cm)
    spread = np.interp(logf, cx, cs)
    return locus, spread


def _isotonic(v: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit (pool adjacent violators)."""
    blocks = [[float(x), 1] for x in v]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            m = (blocks[i][0] * blocks[i][1] + blocks[i + 1][0] * blocks[i + 1][1])
            n = blocks[i][1] + blocks[i + 1][1]
            blocks[i] = [m / n, n]
            del blocks[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([[m] * n for m, n in blocks])


def _saturated_area(raw, x, y, level, rmax):
    """Number of saturated pixels within ``rmax`` of each position."""
    out = np.zeros(x.size)
    h, w = raw.shape
    for i in range(x.size):
        r = int(np.ceil(rmax[i]))
        x0, x1 = max(0, int(x[i]) - r), min(w, int(x[i]) + r + 1)
        y0, y1 = max(0, int(y[i]) - r), min(h, int(y[i]) + r + 1)
        out[i] = np.count_nonzero(raw[y0:y1, x0:x1] >= level)
    return out


def star_mask(shape, cat: StarCatalog, *, grow: float = 1.0, pad: float = 1.0,
              bright_boost: float = 0.5, max_radius: float = 80.0) -> np.ndarray:
    """Disc mask over every star, radius growing with its footprint.

    ``r = grow * r_foot + pad + bright_boost * r50_psf * log10(1 + peak_snr)``;
    saturated stars get twice the footprint term (their wings and halos reach
    well past the detection footprint).
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    if len(cat) == 0:
        return mask.astype(bool)
    sel = np.flatnonzero(cat.is_star)
    peak_rel = np.maximum(cat.peak[sel] / max(np.median(cat.peak[sel]) if sel.size else 1.0, 1e-9), 1.0)
    r = (grow * cat.r_foot[sel] * np.where(cat.saturated[sel], 1.5, 1.0) + pad
         + bright_boost * cat.r50_psf * np.log10(1.0 + peak_rel))
    r = np.clip(r, 1.0, max_radius)
    for xi, yi, ri in zip(cat.x[sel], cat.y[sel], r):
        cv2.circle(mask, (int(round(xi)), int(round(yi))), int(round(ri)), 1, thickness=-1)
    return mask.astype(bool)


def inpaint(img: np.ndarray, mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """Fill masked pixels with OpenCV Telea inpainting (1 or 3 channels, [0, 1]).

    The fill is computed on an 8-bit copy, all channels in one call (OpenCV's
    float32 inpainting overshoots wildly, far outside the neighbours' range,
    and 16-bit works one channel at a time, three times slower); pixels
    outside the mask keep their float values.
    """
    x = np.asarray(img, dtype=np.float32)
    if not mask.any():
        return x.copy()
    u8 = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    filled = cv2.inpaint(u8, mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)
    out = x.copy()
    out[mask] = filled[mask].astype(np.float32) / 255.0
    return out
