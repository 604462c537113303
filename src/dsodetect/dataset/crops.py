"""Random square crops labelled for the presence classifier (DSO in the crop or not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["crop_label", "random_crops", "balance", "make_crop_dataset"]


def crop_label(box, detections, min_object: float = 0.5, min_cover: float = 0.5,
               max_negative: float = 0.02):
    """Label of a crop window ``(x0, y0, x1, y1)``: 1 (DSO), 0 (none) or None (ambiguous).

    Positive when at least ``min_object`` of some object box lies inside the
    crop, or the object covers at least ``min_cover`` of the crop (a large
    nebula seen through a small window). Negative when no box covers more
    than ``max_negative`` of the crop or has more than ``max_negative`` of
    itself inside. Anything between is ambiguous and best left out of
    training.
    """
    cx0, cy0, cx1, cy1 = box
    carea = (cx1 - cx0) * (cy1 - cy0)
    best_obj = best_cov = 0.0
    for d in detections:
        iw = min(cx1, d.x1) - max(cx0, d.x0)
        ih = min(cy1, d.y1) - max(cy0, d.y0)
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        best_obj = max(best_obj, inter / max(d.area, 1e-9))
        best_cov = max(best_cov, inter / carea)
    if best_obj >= min_object or best_cov >= min_cover:
        return 1
    if best_obj <= max_negative and best_cov <= max_negative:
        return 0
    return None


def random_crops(rng, height: int, width: int, detections, n: int, size: int = 224, positive_bias: float = 0.5,
                 **rules):
    """``n`` random crop windows with their labels (ambiguous ones are skipped).

    With probability ``positive_bias`` a window is centred near a random object
    box (so that rare small objects still give positives); otherwise it is
    uniform over the frame. Images smaller than ``size`` give one window of
    the whole image.
    """
    size_x, size_y = min(size, width), min(size, height)
    out = []
    dets = list(detections)
    for _ in range(4 * n):
        if len(out) >= n:
            break
        if dets and rng.random() < positive_bias:
            d = dets[int(rng.integers(len(dets)))]
            cx = rng.uniform(d.x0, d.x1)
            cy = rng.uniform(d.y0, d.y1)
            x0 = int(np.clip(cx - size_x / 2 + rng.normal(0, size_x / 6), 0, width - size_x))
            y0 = int(np.clip(cy - size_y / 2 + rng.normal(0, size_y / 6), 0, height - size_y))
        else:
            x0 = int(rng.integers(0, width - size_x + 1))
            y0 = int(rng.integers(0, height - size_y + 1))
        win = (x0, y0, x0 + size_x, y0 + size_y)
        lab = crop_label(win, dets, **rules)
        if lab is not None:
            out.append((win, lab))
    return out


def balance(items, rng, key=lambda it: it[1]):
    """Undersample the larger class so both classes have the same count (the paper's recall balance)."""
    pos = [it for it in items if key(it) == 1]
    neg = [it for it in items if key(it) == 0]
    n = min(len(pos), len(neg))
    pick = lambda xs: [xs[i] for i in sorted(rng.choice(len(xs), n, replace=False))] if n else []
    return pick(pos) + pick(neg)


def make_crop_dataset(samples, dst, per_image: int = 8, size: int = 224, seed: int = 0,
                      balanced: bool = True, on_error=None, **rules) -> dict:
    """Write classification crops as ``dst/<split>/{dso,empty}/<stem>_<k>.jpg`` (ImageFolder layout).

    ``samples`` are :class:`~dsodetect.dataset.yolo.Sample`; their ``split``
    (or ``train`` when None) is kept so crops never cross splits. Returns the
    counts per split and class.
    """
    import cv2

    from .yolo import load_samples

    rng = np.random.default_rng(seed)
    dst = Path(dst)
    pending: dict[str, list] = {}
    for s, rgb, dets in load_samples(samples, on_error):
        h, w = rgb.shape[:2]
        for k, (win, lab) in enumerate(random_crops(rng, h, w, dets, per_image, size, **rules)):
            x0, y0, x1, y1 = win
            # A copy, not a view: a view would keep the whole frame alive until the crops are written.
            pending.setdefault(s.split or "train", []).append((rgb[y0:y1, x0:x1].copy(), lab, f"{s.stem}_{k}"))
    counts = {}
    for split, items in pending.items():
        if balanced:
            items = balance(items, rng)
        for crop, lab, name in items:
            folder = dst / split / ("dso" if lab else "empty")
            folder.mkdir(parents=True, exist_ok=True)
            bgr = crop[:, :, ::-1] if crop.ndim == 3 else crop
            cv2.imwrite(str(folder / f"{name}.jpg"), np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, 95])
            key = f"{split}/{'dso' if lab else 'empty'}"
            counts[key] = counts.get(key, 0) + 1
    return counts
