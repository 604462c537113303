"""Signal-to-noise in an aperture and its growth with integration time.

Stacking N sub-frames raises the signal N times and the noise sqrt(N) times,
so the S/N of a faint object grows about as ``sqrt(t)``. Fitting
``snr = a * sqrt(t)`` to the stacks seen so far tells how long a target that
is still invisible (or marginal) needs before it reaches a given S/N.
"""

from __future__ import annotations

import numpy as np

__all__ = ["background", "aperture_snr", "fit_sqrt_growth", "time_to_snr", "format_duration"]


def background(gray: np.ndarray, mask: np.ndarray | None = None):
    """``sep.Background`` with a mesh coarse enough to leave extended objects in the signal."""
    import sep

    data = np.ascontiguousarray(gray, dtype=np.float32)
    # A mesh of a quarter of the frame: coarser than the galaxies and nebulae
    # whose S/N is measured, so that they are not taken for background.
    box = int(max(64, min(data.shape) // 4))
    return sep.Background(data, mask=mask, bw=box, bh=box, fw=3, fh=3)


def aperture_snr(gray: np.ndarray, x, y, r, *, bkg=None, mask: np.ndarray | None = None) -> np.ndarray:
    """S/N of the background-subtracted flux in circular apertures.

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` image.
    x, y, r : array_like
        Aperture centres (pixel columns, rows) and radii.
    bkg : sep.Background, optional
        Reused across calls on the same image (it dominates the cost).
    mask : ndarray of bool, optional
        Pixels left out of the background estimate (known objects).

    Returns
    -------
    ndarray
        Flux / flux error for each aperture (sky noise only, no Poisson term,
        since stacks come in arbitrary units).
    """
    import sep

    data = np.ascontiguousarray(gray, dtype=np.float32)
    if bkg is None:
        bkg = background(data, mask)
    sub = data - bkg.back()
    flux, err, _ = sep.sum_circle(sub, np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float)),
                                  np.atleast_1d(np.asarray(r, float)), err=max(bkg.globalrms, 1e-12), subpix=1)
    return np.where(err > 0, flux / np.where(err > 0, err, 1.0), 0.0)


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
