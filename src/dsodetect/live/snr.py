"""Signal-to-noise in an aperture and its growth with integration time.

Stacking N sub-frames raises the signal N times and the noise sqrt(N) times,
so the S/N of a faint object grows about as ``sqrt(t)``. Fitting
``snr = a * sqrt(t)`` to the stacks seen so far tells how long a target that
is still invisible (or marginal) needs before it reaches a given S/N.
"""

from __future__ import annotations

import numpy as np

__all__ = ["starless_gray", "background", "aperture_snr", "detection_snr", "fit_sqrt_growth", "time_to_snr",
           "format_duration"]


def starless_gray(gray: np.ndarray) -> np.ndarray:
    """The image with its stars (point sources) replaced by their surroundings.

    A grey-level opening larger than a star gives the image without stars;
    pixels where the image rises well above it (stars) take the opened value,
    all others keep their own, so the noise stays that of the stack. Used for
    the S/N measurements so that a star in an aperture does not pass for a
    galaxy or nebula.
    """
    import cv2
    from astropy.stats import mad_std

    gray = np.ascontiguousarray(gray, np.float32)
    size = max(9, int(round(min(gray.shape) / 120)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    opened = cv2.morphologyEx(gray, cv2.MORPH_OPEN, kernel)
    resid = gray - opened
    sigma = float(mad_std(resid)) or 1e-12
    stars = cv2.dilate((resid > 5 * sigma).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(stars, opened, gray)


def background(gray: np.ndarray, mask: np.ndarray | None = None):
    """``sep.Background`` with a mesh coarse enough to leave extended objects in the signal."""
    import sep

    data = np.ascontiguousarray(gray, dtype=np.float32)
    # A mesh of a quarter of the frame: coarser than the galaxies and nebulae
    # whose S/N is measured, so that they are not taken for background.
    box = int(max(64, min(data.shape) // 4))
    return sep.Background(data, mask=mask, bw=box, bh=box, fw=3, fh=3)


def aperture_snr(gray: np.ndarray, x, y, r, *, bkg=None) -> np.ndarray:
    """S/N of the background-subtracted flux in circular apertures.

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` image.
    x, y, r : array_like
        Aperture centres (pixel columns, rows) and radii.
    bkg : sep.Background, optional
        Reused across calls on the same image (it dominates the cost).

    Returns
    -------
    ndarray
        Flux / flux error for each aperture (sky noise only, no Poisson term,
        since stacks come in arbitrary units).
    """
    import sep

    data = np.ascontiguousarray(gray, dtype=np.float32)
    if bkg is None:
        bkg = background(data)
    sub = data - bkg.back()
    flux, err, _ = sep.sum_circle(sub, np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float)),
                                  np.atleast_1d(np.asarray(r, float)), err=max(bkg.globalrms, 1e-12), subpix=1)
    return np.where(err > 0, flux / np.where(err > 0, err, 1.0), 0.0)


def detection_snr(image, detections, *, extra=(), mask_boxes: bool = False) -> np.ndarray:
    """S/N of detected objects (and of extra apertures) on the star-removed image.

    Each detection gets a circular aperture at its box centre, of radius half
    its shorter side (at least 2 px).

    Parameters
    ----------
    image : Image
        The stack (its ``gray()`` and no-data ``mask`` are used).
    detections : list of Detection
    extra : sequence of (x, y, r)
        Further apertures, measured after the detections (e.g. the target's).
    mask_boxes : bool
        Leave the detection boxes out of the background estimate too, unless
        they cover 70 % of the frame or more.

    Returns
    -------
    ndarray
        One S/N per detection, then one per ``extra`` aperture; empty (and
        nothing computed) when there are none.
    """
    apertures = [(d.center[0], d.center[1], max(2.0, 0.5 * min(d.width, d.height))) for d in detections]
    apertures += [tuple(a) for a in extra]
    if not apertures:
        return np.zeros(0)
    gray = starless_gray(image.gray())
    mask = image.mask
    if mask_boxes:
        boxmask = np.zeros(gray.shape, bool)
        for d in detections:
            boxmask[int(d.y0):int(np.ceil(d.y1)), int(d.x0):int(np.ceil(d.x1))] = True
        boxmask |= image.mask
        if boxmask.mean() < 0.7:  # else too little sky is left for the background
            mask = boxmask
    xs, ys, rs = zip(*apertures)
    return aperture_snr(gray, xs, ys, rs, bkg=background(gray, mask))


def fit_sqrt_growth(t, snr) -> float | None:
    """Least-squares ``a`` in ``snr = a * sqrt(t)``; None without usable points.

    Only points with ``t > 0`` count. ``a <= 0`` (no signal growing) gives None.
    """
    t = np.asarray(t, dtype=float)
    snr = np.asarray(snr, dtype=float)
    ok = np.isfinite(t) & np.isfinite(snr) & (t > 0)
    if not ok.any():
        return None
    t, snr = t[ok], snr[ok]
    a = float(np.sum(snr * np.sqrt(t)) / np.sum(t))
    return a if a > 0 else None


def time_to_snr(a: float | None, target_snr: float) -> float | None:
    """Integration time (s) at which ``a * sqrt(t)`` reaches ``target_snr``."""
    if not a or a <= 0:
        return None
    return float((target_snr / a) ** 2)


def format_duration(seconds: float | None) -> str:
    """``'42 s'``, ``'12 min'``, ``'2 h 05 min'``; ``'?'`` for None."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    h, m = divmod(int(round(minutes)), 60)
    return f"{h} h {m:02d} min"
