"""Measured statistics of app JPEGs, to compare synthetic images with real ones.

All numbers are on the 8-bit display image (0..255), as both real and
synthetic data sets are JPEGs: sky level and noise (sep background), star
counts and FWHM (sep extraction), colours, and how much of the frame diffuse
emission covers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["image_stats", "STAT_NAMES"]

#: Keys of :func:`image_stats`, with a short description for plots.
STAT_NAMES = {
    "bkg": "sky level (DN, grey)",
    "noise": "sky noise (DN, grey)",
    "bkg_rg": "sky colour R-G (DN)",
    "bkg_bg": "sky colour B-G (DN)",
    "stars_per_100k": "stars per 100k px (5 sigma)",
    "fwhm": "star FWHM (px)",
    "star_rb": "star colour (R-B)/(R+G+B)",
    "diffuse_frac": "frame fraction of diffuse emission",
}


def image_stats(rgb: np.ndarray) -> dict:
    """Statistics of one ``(H, W, 3)`` uint8 (or 0..255 float) RGB image.

    Black padding (bands, rotation wedges: exactly 0-2 DN in every channel)
    is excluded from every statistic.
    """
    import cv2
    import sep

    img = np.asarray(rgb, dtype=np.float32)
    gray = np.ascontiguousarray(img.mean(axis=2))
    pad = cv2.erode(((img.max(axis=2) <= 2)).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    pad = cv2.dilate(pad.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    valid = ~pad
    n_valid = int(valid.sum())
    out = dict.fromkeys(STAT_NAMES, np.nan)
    if n_valid < 0.2 * gray.size:
        return out
    bkg = sep.Background(gray, mask=pad, bw=64, bh=64, fw=3, fh=3)
    sky = bkg.back()
    med = np.median(img[valid], axis=0)
    out["bkg"] = float(np.median(sky[valid]))
    # Pixel-to-pixel noise from differences (robust to gradients and JPEG smoothing of large scales).
    d = np.diff(gray, axis=1)[valid[:, 1:] & valid[:, :-1]]
    # (Sigma-clipped std: a MAD would be quantised by the integer DN of a JPEG.)
    from astropy.stats import sigma_clipped_stats

    out["noise"] = float(sigma_clipped_stats(d, sigma=3.0, maxiters=5)[2] / np.sqrt(2))
    out["bkg_rg"] = float(med[0] - med[1])
    out["bkg_bg"] = float(med[2] - med[1])
    sub = gray - sky
    err = max(float(bkg.globalrms), 0.5)
    sep.set_extract_pixstack(1_000_000)
    try:
        objs = sep.extract(sub, 5.0, err=err, mask=pad, minarea=3, deblend_cont=0.005)
    except Exception:  # sep gives up on pathological frames; no stars then
        objs = np.zeros(0, dtype=[("a", float), ("b", float), ("x", float), ("y", float), ("peak", float),
                                  ("flag", int)])
    compact = (objs["a"] < 6) & (objs["b"] > 0.5 * objs["a"]) if len(objs) else np.zeros(0, bool)
    out["stars_per_100k"] = float(compact.sum() / n_valid * 1e5)
    good = compact & (objs["peak"] + sky[objs["y"].astype(int), objs["x"].astype(int)] < 240) \
        & (objs["peak"] > 10 * err) & (objs["flag"] == 0) if len(objs) else compact
    if good.sum() >= 3:
        r, _ = sep.flux_radius(sub, objs["x"][good], objs["y"][good], 6.0 * objs["a"][good], 0.5,
                               normflux=None, subpix=5)
        out["fwhm"] = float(np.median(2.0 * r[np.isfinite(r) & (r > 0)]))
        xs, ys = objs["x"][good].round().astype(int), objs["y"][good].round().astype(int)
        c = img[ys, xs] - med
        tot = c.sum(axis=1)
        ok = tot > 30
        if ok.any():
            out["star_rb"] = float(np.median((c[ok, 0] - c[ok, 2]) / tot[ok]))
    # Diffuse light: the starless (median-filtered) image above the sky level.
    small = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)
    starless = cv2.medianBlur(np.clip(small, 0, 255).astype(np.uint8), 9).astype(np.float32)
    starless = cv2.GaussianBlur(starless, (0, 0), 3)
    vsmall = cv2.resize(valid.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    level = np.percentile(starless[vsmall], 20)
    thr = level + 6.0  # DN above the darkest fifth of the sky
    out["diffuse_frac"] = float((starless[vsmall] > thr).mean())
    return out
