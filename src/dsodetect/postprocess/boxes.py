"""Box arithmetic used by every detector and by evaluation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..detection import Detection, boxes_array

__all__ = ["box_iou", "box_ios", "nms", "merge_overlapping", "clip_detections", "filter_min_size"]


def _overlap(a: np.ndarray, b: np.ndarray):
    """Pairwise intersection areas ``(N, M)`` and the areas of ``a`` and ``b``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter, area_a, area_b


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` boxes ``x0, y0, x1, y1`` -> ``(N, M)``."""
    inter, area_a, area_b = _overlap(a, b)
    return _safe_ratio(inter, area_a[:, None] + area_b[None, :] - inter)


def box_ios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area -> ``(N, M)`` (1 when one box holds the other)."""
    inter, area_a, area_b = _overlap(a, b)
    return _safe_ratio(inter, np.minimum(area_a[:, None], area_b[None, :]))


def nms(detections: list[Detection], iou_threshold: float = 0.5) -> list[Detection]:
    """Greedy non-maximum suppression by score (OpenCV's ``dnn.NMSBoxes``).

    Returns the kept detections, highest score first.
    """
    import cv2

    if not detections:
        return []
    b = boxes_array(detections)
    xywh = np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])
    scores = np.array([d.score for d in detections], dtype=np.float64)
    # NMSBoxes needs scores >= its threshold; shifting keeps the ranking.
    scores = scores - scores.min() + 1.0
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), score_threshold=0.0,
                            nms_threshold=float(iou_threshold))
    keep = np.asarray(keep, dtype=int).ravel()
    return sorted((detections[i] for i in keep), key=lambda d: -d.score)


def merge_overlapping(detections: list[Detection], *, iou_threshold: float = 0.0,
                      containment: float = 0.5, gap: float = 0.0,
                      score: str = "max") -> list[Detection]:
    """Merge boxes that belong together into their union box.

    Two boxes are joined when their IoU exceeds ``iou_threshold``, or when more
    than ``containment`` of the smaller one lies inside the other, or when they
    come within ``gap`` pixels of each other. Joining is transitive (connected
    components), so a nebula broken into many pieces becomes one box, which is
    the annotation convention of the data sets.

    Parameters
    ----------
    score : {'max', 'sum'}
        How a merged group's score is formed. ``'sum'`` adds scores in
        quadrature (for S/N-like scores, clipped to 1).
    """
    n = len(detections)
    if n < 2:
        return list(detections)
    b = boxes_array(detections)
    grown = b + np.array([-gap, -gap, gap, gap]) / 2.0
    linked = (box_iou(b, b) > iou_threshold) if iou_threshold > 0 else np.zeros((n, n), bool)
    linked |= box_ios(grown, grown) > (containment if gap == 0 else 0.0)
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(linked, directed=False)
    merged = []
    for lab in np.unique(labels):
        members = [detections[i] for i in np.flatnonzero(labels == lab)]
        if len(members) == 1:
            merged.append(members[0])
            continue
        bb = boxes_array(members)
        scores = np.array([m.score for m in members])
        s = float(scores.max()) if score == "max" else float(min(1.0, np.sqrt((scores ** 2).sum())))
        best = members[int(scores.argmax())]
        extras = dict(best.extras)
        extras["merged"] = len(members)
        merged.append(replace(best, x0=float(bb[:, 0].min()), y0=float(bb[:, 1].min()), x1=float(bb[:, 2].max()),
                              y1=float(bb[:, 3].max()), score=s, extras=extras))
    return sorted(merged, key=lambda d: -d.score)


def clip_detections(detections: list[Detection], width: int, height: int) -> list[Detection]:
    """Clip boxes to the image; boxes left with no area are dropped."""
    out = []
    for d in detections:
        x0, x1 = np.clip([d.x0, d.x1], 0, width)
        y0, y1 = np.clip([d.y0, d.y1], 0, height)
        if x1 > x0 and y1 > y0:
            out.append(replace(d, x0=float(x0), y0=float(y0), x1=float(x1), y1=float(y1)))
    return out


def filter_min_size(detections: list[Detection], min_size: float = 0.0,
                    min_area: float = 0.0) -> list[Detection]:
    """Drop boxes narrower/shorter than ``min_size`` px or smaller than ``min_area`` px²."""
    return [d for d in detections
            if min(d.width, d.height) >= min_size and d.area >= min_area]
