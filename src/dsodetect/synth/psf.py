"""Moffat point-spread function and vectorised stamping of many point sources."""

from __future__ import annotations

import numpy as np

__all__ = ["moffat_alpha", "moffat_stamps", "add_point_sources"]


def moffat_alpha(fwhm, beta):
    """Moffat core width ``alpha`` for a given FWHM and ``beta`` (floats or arrays)."""
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def moffat_stamps(dx, dy, fwhm, beta, ellipticity=0.0, theta=0.0):
    """Unit-sum Moffat stamps evaluated on pixel offsets.

    Parameters
    ----------
    dx, dy : ndarray
        ``(K, s, s)`` offsets of each stamp pixel from its source centre.
    fwhm, beta : float or ndarray of shape (K,)
    ellipticity : float
        ``1 - b/a`` of the profile; elongation along ``theta`` mimics the slight
        trailing of 10 s alt-az subs and field rotation.
    theta : float
        Direction of elongation, radians from +x.
    """
    fwhm = np.asarray(fwhm, dtype=np.float32).reshape(-1, 1, 1)
    beta = np.asarray(beta, dtype=np.float32).reshape(-1, 1, 1)
    alpha = moffat_alpha(fwhm, beta)
    c, s = np.cos(theta), np.sin(theta)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    # Long axis along u; the short axis keeps the seeing FWHM.
    r2 = (u * (1.0 - ellipticity)) ** 2 + v ** 2
    prof = (1.0 + r2 / alpha ** 2) ** (-beta)
    prof /= prof.sum(axis=(1, 2), keepdims=True)
    return prof


def add_point_sources(image, x, y, flux, fwhm, beta=3.0, *, half=5, ellipticity=0.0, theta=0.0,
                      colours=None):
    """Add Moffat sources to ``image`` in place with one ``bincount`` per channel.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, 3)`` float32 image to add to.
    x, y : ndarray
        Source centres (column, row) in pixels; sources whose stamp falls
        outside the image are clipped.
    flux : ndarray
        Total flux of each source (per channel: multiplied by ``colours``).
    half : int
        Stamp half-size; the stamp is ``2 * half + 1`` pixels wide.
    colours : ndarray, optional
        ``(K, 3)`` channel weights for an RGB image.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return image
    h, w = image.shape[:2]
    ix, iy = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
    off = np.arange(-half, half + 1)
    px = ix[:, None, None] + off[None, None, :]
    py = iy[:, None, None] + off[None, :, None]
    dx = (px - x[:, None, None]).astype(np.float32)
    dy = (py - y[:, None, None]).astype(np.float32)
    prof = moffat_stamps(dx, dy, fwhm, beta, ellipticity, theta)
    inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    idx = (py * w + px)[inside]
    flux = np.asarray(flux, dtype=np.float32).reshape(-1, 1, 1)
    if image.ndim == 2:
        image += np.bincount(idx, weights=(prof * flux)[inside], minlength=h * w).reshape(h, w).astype(np.float32)
        return image
    colours = np.ones((x.size, 3), np.float32) if colours is None else np.asarray(colours, np.float32)
    for c in range(image.shape[2]):
        wts = (prof * flux * colours[:, c].reshape(-1, 1, 1))[inside]
        image[:, :, c] += np.bincount(idx, weights=wts, minlength=h * w).reshape(h, w).astype(np.float32)
    return image


def psf_kernel(fwhm, beta, half, ellipticity=0.0, theta=0.0) -> np.ndarray:
    """Unit-sum ``(2 half + 1)²`` Moffat kernel centred on the middle pixel."""
    off = np.arange(-half, half + 1, dtype=np.float32)
    dy, dx = np.meshgrid(off, off, indexing="ij")
    return moffat_stamps(dx[None], dy[None], fwhm, beta, ellipticity, theta)[0]


def splat_sources(image, x, y, flux, kernel, colours=None):
    """Add many faint sources at once: bilinear splat of the fluxes, then one convolution with ``kernel``.

    All sources share the PSF, so convolving a point image costs one
    ``cv2.filter2D`` whatever their number; sub-pixel positions are kept by
    splitting each flux over the 4 nearest pixels.
    """
    import cv2

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return image
    h, w = image.shape[:2]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    idx, wts = [], []
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        px, py = x0 + dx, y0 + dy
        ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
        idx.append(np.where(ok, py * w + px, 0))
        wts.append(np.where(ok, wt, 0.0))
    idx = np.concatenate(idx)
    wts = np.concatenate(wts)
    flux = np.tile(np.asarray(flux, np.float64), 4)
    chans = 1 if image.ndim == 2 else image.shape[2]
    colours = np.ones((x.size, chans)) if colours is None else np.asarray(colours, np.float64)
    pts = np.empty((h, w, chans), np.float32)
    for c in range(chans):
        pts[:, :, c] = np.bincount(idx, weights=wts * flux * np.tile(colours[:, c], 4),
                                   minlength=h * w).reshape(h, w)
    conv = cv2.filter2D(pts, -1, kernel.astype(np.float32), borderType=cv2.BORDER_CONSTANT)
    image += conv.reshape(image.shape)
    return image
