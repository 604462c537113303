"""Labels that follow visibility: a box only where an object rises above the sky noise."""

from __future__ import annotations

import numpy as np

from ..detection import Detection

__all__ = ["visible_mask", "box_from_mask", "cluster_box", "generous_box"]


def visible_mask(light, sigma, threshold: float = 1.5, smooth: int = 5, min_area: int = 25):
    """Pixels where the object's own light stands out of the stacked sky noise.

    Parameters
    ----------
    light : ndarray
        ``(h, w, 3)`` noiseless signal of the object alone (same units as ``sigma``).
    sigma : ndarray or float
        Per-pixel, per-channel noise of the stack, ``(h, w, 3)`` or broadcastable.
    threshold : float
        Multiple of the per-pixel sky noise that the object's surface
        brightness (box-smoothed over ``smooth`` px, as the eye does) must reach
        in at least one colour channel.
    smooth : int
        Box size of that average (px); it also keeps arm and filament gaps
        from splitting an object.
    min_area : int
        Connected pieces smaller than this (px) are ignored (noise-sized specks).
    """
    import cv2

    light = np.asarray(light, np.float32)
    k = max(1, int(smooth))
    sm = cv2.blur(light, (k, k), borderType=cv2.BORDER_REPLICATE)
    snr = sm / np.asarray(sigma, np.float32)
    if snr.ndim == 3:
        snr = np.maximum(np.maximum(snr[..., 0], snr[..., 1]), snr[..., 2])
    mask = snr > threshold
    if not mask.any():
        return mask
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[lab]


def box_from_mask(mask, offset=(0, 0)):
    """``(x0, y0, x1, y1)`` around the True pixels (exclusive ends), shifted by ``offset`` (x, y)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return (xs.min() + offset[0], ys.min() + offset[1], xs.max() + 1 + offset[0], ys.max() + 1 + offset[1])


def generous_box(box, width: int, height: int, pad: float = 0.12, min_pad: float = 3.0):
    """Grow a box by ``pad`` of its size (at least ``min_pad`` px) on each side, clipped to the frame.

    The published labels are drawn generously around the visible extent.
    """
    x0, y0, x1, y1 = box
    px = max(min_pad, pad * (x1 - x0))
    py = max(min_pad, pad * (y1 - y0))
    return (max(0.0, x0 - px), max(0.0, y0 - py), min(float(width), x1 + px), min(float(height), y1 + py))


def cluster_box(x, y, snr, cx, cy, radius, field_snr=(), field_area: float = 1.0,
                threshold: float = 5.0, min_members: int = 8):
    """Box around a cluster's individually visible members near its centre.

    A member counts when its peak ``snr`` (peak signal / sky noise) exceeds
    ``threshold``. The eye picks a cluster out of the field when its brighter
    members outnumber the field stars of the same brightness in the same
    circle: the members at or above the median visible member must exceed
    the field count expected there (from ``field_snr``, the peak S/N of the
    field stars spread over ``field_area`` px²) by 3 Poisson sigma.
    Returns None when the cluster does not stand out.
    """
    x, y, snr = np.asarray(x), np.asarray(y), np.asarray(snr)
    near = np.hypot(x - cx, y - cy) <= radius
    vis = near & (snr > threshold)
    if vis.sum() < min_members:
        return None
    s_med = float(np.median(snr[vis]))
    field_snr = np.asarray(field_snr)
    expected = float((field_snr >= s_med).sum()) / field_area * np.pi * radius ** 2
    n_bright = int((snr[vis] >= s_med).sum())
    if n_bright < expected + 3.0 * np.sqrt(expected) + 3:
        return None
    xs, ys = x[vis], y[vis]
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def to_detection(box, obj, snr=None) -> Detection:
    extras = {"kind": obj.kind}
    if obj.name:
        extras["names"] = [obj.name]
    if snr is not None:
        extras["snr"] = float(snr)
    return Detection(*map(float, box), score=1.0, label="DSO", method="synth", extras=extras)
