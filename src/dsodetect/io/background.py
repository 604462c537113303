"""The sky's large-scale light: a smooth surface fitted to the faint part of a frame, and its removal.

Light pollution, moonlight and vignetting add a gradient across a linear stack that is far larger than any
object. Fitted by a low-order polynomial (which cannot bend around a galaxy or a nebula) to block medians of the
sky, it can be subtracted before the stretch, as Siril's background extraction and GraXpert do.
"""

from __future__ import annotations

import numpy as np
from astropy.stats import mad_std

__all__ = ["fit_sky", "flatten_background"]


def _powers(degree: int) -> list[tuple[int, int]]:
    """Exponents ``(i, j)`` of the monomials ``x^i y^j``, ``i + j <= degree``: constant, x, y, x², xy, y², ..."""
    return [(d - j, j) for d in range(degree + 1) for j in range(d + 1)]


def fit_sky(img: np.ndarray, mask: np.ndarray | None = None, *, degree: int = 1, cells: int = 12,
            clip: float = 2.0, iters: int = 4, low_quantile: float = 0.5) -> np.ndarray:
    """Sky level as a polynomial surface fitted to the faint part of the frame.

    The frame is cut into ``cells x cells`` blocks; each block's median of
    valid pixels is a sample. A polynomial of ``degree`` in x and y is fitted
    by least squares, and blocks lying more than ``clip`` robust sigmas
    *above* it (nebula, galaxy) are rejected, iteratively. The fit starts from
    the ``low_quantile`` faintest blocks, so a nebula that covers much of the
    frame does not lift the sky. A plane (``degree`` 1) cannot bend around an
    object at all; a quadratic follows a moon's or a town's glow.

    Parameters
    ----------
    img : ndarray
        ``(H, W)`` float (a channel, a starless luminance or a colour-excess map).
    mask : ndarray of bool, optional
        True for pixels to ignore (no data, stars).
    degree : int
        Polynomial degree (1: a tilted plane).
    cells : int
        Blocks per side.
    clip, iters, low_quantile
        Rejection threshold (robust sigmas above the fit), rounds, and the
        share of faintest blocks the first fit uses.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 sky model.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:200, 0:300]
    >>> sky = fit_sky((1.0 + 0.002 * xx).astype(np.float32))
    >>> round(float(sky[0, 299] - sky[0, 0]), 2)
    0.6
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    h, w = img.shape
    mask = np.zeros((h, w), bool) if mask is None else mask
    ys = np.linspace(0, h, cells + 1).astype(int)
    xs = np.linspace(0, w, cells + 1).astype(int)
    vals, cx, cy = [], [], []
    for i in range(cells):
        for j in range(cells):
            blk = img[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
            m = ~mask[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
            if m.sum() < 0.3 * m.size or m.sum() < 16:
                continue
            vals.append(float(np.median(blk[m])))
            cx.append(0.5 * (xs[j] + xs[j + 1]) / w - 0.5)
            cy.append(0.5 * (ys[i] + ys[i + 1]) / h - 0.5)
    vals = np.asarray(vals)
    cx, cy = np.asarray(cx), np.asarray(cy)
    A = np.column_stack([cx ** i * cy ** j for i, j in _powers(degree)]) if vals.size else np.zeros((0, 1))
    if vals.size < 2 * A.shape[1]:  # too few sky samples for the surface: a flat sky
        valid = img[~mask] if (~mask).any() else img.ravel()
        return np.full((h, w), float(np.median(valid)) if valid.size else 0.0, np.float32)
    use = vals <= np.quantile(vals, low_quantile)
    coef = np.zeros(A.shape[1])
    coef[0] = np.median(vals[use])
    for _ in range(iters):
        if use.sum() < 2 * A.shape[1]:
            break
        coef, *_ = np.linalg.lstsq(A[use], vals[use], rcond=None)
        resid = vals - A @ coef
        s = mad_std(resid[use]) + 1e-6
        new = resid < clip * s
        if np.array_equal(new, use):
            break
        use = new
    # sum_ij c_ij x^i y^j = Y @ P, Y[:, j] = y^j, P[j] = sum_i c_ij x^i: one product, not a pass per term.
    gx = (np.arange(w, dtype=np.float32) / w - 0.5).astype(np.float64)
    gy = (np.arange(h, dtype=np.float32) / h - 0.5).astype(np.float64)
    P = np.zeros((degree + 1, w))
    for c, (i, j) in zip(coef, _powers(degree)):
        P[j] += c * gx ** i
    sky = np.stack([gy ** j for j in range(degree + 1)], axis=1) @ P
    return sky.astype(np.float32)


def flatten_background(data: np.ndarray, mask: np.ndarray | None = None, *, degree: int = 2,
                       cells: int = 12) -> np.ndarray:
    """Subtract each channel's sky gradient (:func:`fit_sky`), keeping its median sky level.

    For linear data, before the stretch: the stretch then spends its range
    on the objects instead of on a glow across the frame. The sky's median
    level is kept, so the stretch's statistics stay where they were.

    Parameters
    ----------
    data : ndarray
        ``(H, W)`` or ``(H, W, 3)`` linear pixels.
    mask : ndarray of bool, optional
        ``(H, W)``, True where there is no data.
    degree, cells
        See :func:`fit_sky`.

    Returns
    -------
    ndarray
        float32, the shape of ``data``; ``data`` itself is not changed.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:200, 0:300]
    >>> flat = flatten_background((1.0 + 0.002 * xx).astype(np.float32))
    >>> bool(np.ptp(flat) < 0.01)
    True
    """
    out = np.array(data, dtype=np.float32, copy=True)
    planes = [out] if out.ndim == 2 else [out[..., c] for c in range(out.shape[2])]
    for plane in planes:
        sky = fit_sky(plane, mask, degree=degree, cells=cells)
        sky -= np.median(sky[::8, ::8])  # a smooth surface: every 8th pixel gives its median
        plane -= sky
    return out
