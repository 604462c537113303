"""No-data regions, sky background and noise for the classical detector.

Everything here works on the *working* image: display-stretched pixels in
[0, 1] at reduced resolution (see :mod:`.detector`).
"""

from __future__ import annotations

import cv2
import numpy as np
from astropy.stats import mad_std

from ...io.background import fit_sky

__all__ = ["nodata_mask", "fit_sky_plane", "negative_side_noise", "small_scale_background"]


def nodata_mask(rgb: np.ndarray, base: np.ndarray | None = None, *, min_border_frac: float = 0.03,
                min_area_frac: float = 0.002, grow: int = 2, max_holes: float = 0.01,
                tol: int = 2, black: int = 3, min_exact: float = 0.9) -> np.ndarray:
    """Pixels that hold no sky: rotation wedges, black bands, flat fill.

    Augmented and mosaicked frames carry regions with no data: black corner
    wedges or edge bands and flat-grey fill, each a single constant value
    (even in JPEGs, away from the region's edge). Such a value shows up as a
    long run along the image border, so the candidates are the pixel values
    (at 8-bit precision) that make up at least ``min_border_frac`` of the
    border. For each, the pixels within ``tol`` levels of that value (JPEG
    blocks inside a flat wedge wander by a level or two), opened with a
    5x5 square (so that isolated sky pixels of the same value do not leak in),
    form regions; a region is no-data when it touches the border, covers at
    least ``min_area_frac`` of the frame, holds the exact value in at least
    ``min_exact`` of its interior (a dim sky within a level or two of the
    value is noisy, fill is not) and, when the value is black (every
    channel <= ``black`` levels), it is solid: a sky clipped to black is
    riddled with star-sized holes, which must stay under ``max_holes`` of its
    area (a grey value spread over a large border region is never sky, and
    the noise that augmentation sprinkled over grey wedges would fail that
    test). A flatness test alone is not enough: dark 8-bit skies are full of
    JPEG blocks of one value. The result is grown by ``grow`` px (JPEG
    ringing along the region's edge) and OR-ed with ``base``.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W)`` or ``(H, W, 3)`` float pixels in [0, 1].
    base : ndarray of bool, optional
        Known no-data pixels (``Image.mask`` at this resolution).

    Returns
    -------
    ndarray of bool
        ``(H, W)``, True where there is no data.
    """
    x = rgb if rgb.ndim == 3 else rgb[:, :, None]
    h, w = x.shape[:2]
    out = np.zeros((h, w), bool) if base is None else base.astype(bool).copy()
    q = np.clip(np.round(x * 255.0), 0, 255).astype(np.int32)
    code = q[:, :, 0]
    for c in range(1, q.shape[2]):
        code = code * 256 + q[:, :, c]
    border = np.concatenate([code[0], code[-1], code[1:-1, 0], code[1:-1, -1]])
    values, counts = np.unique(border, return_counts=True)
    open_k = np.ones((5, 5), np.uint8)
    for v in values[counts >= min_border_frac * border.size]:
        vq = np.array([(v >> (8 * (q.shape[2] - 1 - c))) & 255 for c in range(q.shape[2])])
        near = np.all(np.abs(q - vq) <= tol, axis=2)
        cand = cv2.morphologyEx(near.astype(np.uint8), cv2.MORPH_OPEN, open_k)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        for i in range(1, n):
            x0, y0 = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
            x1, y1 = x0 + stats[i, cv2.CC_STAT_WIDTH], y0 + stats[i, cv2.CC_STAT_HEIGHT]
            if not (x0 == 0 or y0 == 0 or x1 == w or y1 == h):
                continue
            if stats[i, cv2.CC_STAT_AREA] < min_area_frac * h * w:
                continue
            region = labels == i
            core = cv2.erode(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
            if not core.any() or np.mean(code[core] == v) < min_exact:
                continue  # a dim sky within a level or two of the value, not a fill
            if vq.max() <= black and not _is_fill(region, max_holes):
                continue
            if grow > 0:
                k = 2 * grow + 1
                region = cv2.dilate(region.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
            out |= region
    return out


def _is_fill(region: np.ndarray, max_holes: float, edge: float = 12.0) -> bool:
    """True when a region is solid: few star-sized holes deep inside it.

    Holes are gaps enclosed by the region. Those within ``edge`` px of its
    outline are JPEG blocks along a wedge's ragged edge and are ignored, and
    so are big ones (the image data framed by a black border). What is left,
    star-sized holes deep inside, marks a sky clipped to black rather than
    fill; their area must stay under ``max_holes`` of the region's.
    """
    r = region.astype(np.uint8)
    contours, _ = cv2.findContours(r, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(r)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    holes = (filled > 0) & (r == 0)
    if not holes.any():
        return True
    depth = cv2.distanceTransform(filled, cv2.DIST_L2, 3)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
    deepest = np.zeros(n)
    np.maximum.at(deepest, labels[holes], depth[holes])
    areas = stats[:, cv2.CC_STAT_AREA].astype(float)
    small = (areas < max(400, 0.002 * r.size)) & (deepest > edge)
    small[0] = False
    return float(areas[small].sum()) <= max_holes * max(int(r.sum()), 1)


def small_scale_background(gray: np.ndarray, mask: np.ndarray, box: int) -> tuple[np.ndarray, float]:
    """Local background for point-source detection (sep mesh of ``box`` px).

    This mesh follows nebulae on purpose: stars are found on top of whatever
    diffuse light surrounds them. Returns ``(background, global_rms)``.
    """
    import sep

    data = np.ascontiguousarray(gray, dtype=np.float32)
    box = int(max(8, min(box, min(data.shape) // 2)))
    bkg = sep.Background(data, mask=mask, bw=box, bh=box, fw=3, fh=3)
    back = bkg.back()
    rms = float(bkg.globalrms)
    # A sky clipped to one value (black) leaves sep without a noise estimate
    # (it reports 0 or 1): fall back to the MAD of the residual, floored at
    # the 8-bit quantisation step.
    resid = (data - back)[~mask] if mask is not None and (~mask).any() else (data - back).ravel()
    if resid.size > 200_000:
        resid = resid[:: resid.size // 200_000 + 1]
    mad = float(mad_std(resid)) if resid.size else 0.0
    span = float(np.ptp(resid)) if resid.size else 0.0
    if not (0.0 < rms < 0.25 * max(span, 1e-6)):
        rms = mad
    return back, max(rms, 0.5 / 255)


def fit_sky_plane(img: np.ndarray, mask: np.ndarray, *, cells: int = 12, clip: float = 2.0,
                  iters: int = 4, low_quantile: float = 0.5) -> np.ndarray:
    """Sky level as a tilted plane fitted to the faint part of the frame (:func:`dsodetect.io.background.fit_sky`
    of degree 1): a plane cannot bend around an object, which is the point, as the scale of this model is the whole
    frame, far larger than any object. ``img`` is ``(H, W)`` (a starless luminance or a colour-excess map);
    ``mask`` is True for pixels to ignore (no data, stars).
    """
    return fit_sky(img, mask, degree=1, cells=cells, clip=clip, iters=iters, low_quantile=low_quantile)


def negative_side_noise(values: np.ndarray) -> float:
    """Noise from the faint side of a distribution: ``median - 15.9th percentile``.

    Diffuse emission only adds light, so the lower half of a background-
    subtracted map is (nearly) pure noise even when objects fill much of the
    frame.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return 1.0
    lo = np.quantile(v, [0.159, 0.5])
    return float(max(lo[1] - lo[0], 1e-6))
