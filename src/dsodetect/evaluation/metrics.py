"""Detection metrics: the paper's protocol (greedy one-to-one matching at IoU 0.5,
precision / recall / F1), a score-threshold sweep, and COCO mAP via pycocotools.

Arrays in, numbers out; the folder-level driver lives in :mod:`.folders`.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from ..postprocess import box_iou

__all__ = ["match_image", "prf", "ImageMatch", "threshold_sweep", "pr_curve", "coco_map"]


@dataclass
class ImageMatch:
    """Matching of one image's predictions to its truth.

    Attributes
    ----------
    scores : ndarray
        Prediction scores, sorted descending.
    tp : ndarray of bool
        Whether each (sorted) prediction matched a truth box.
    n_truth : int
    """

    scores: np.ndarray
    tp: np.ndarray
    n_truth: int

    def counts(self, min_score: float = -np.inf) -> tuple[int, int, int]:
        """``(TP, FP, FN)`` keeping predictions with ``score >= min_score``."""
        keep = self.scores >= min_score
        tp = int(self.tp[keep].sum())
        return tp, int(keep.sum()) - tp, self.n_truth - tp


def match_image(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray,
                iou: float = 0.5) -> ImageMatch:
    """Greedy one-to-one matching by descending score.

    Each prediction, best score first, takes the still-unmatched truth box it
    overlaps most, if that IoU is ``>= iou``. Because the matching is greedy by
    score, raising the score threshold later never changes which of the kept
    predictions are true positives, so one matching serves every threshold.

    Parameters
    ----------
    pred : (N, 4) array of x0, y0, x1, y1
    scores : (N,) array
    truth : (M, 4) array
    iou : float

    Returns
    -------
    ImageMatch
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(-scores, kind="stable")
    pred, scores = pred[order], scores[order]
    tp = np.zeros(len(pred), dtype=bool)
    if len(pred) and len(truth):
        ious = box_iou(pred, truth)
        taken = np.zeros(len(truth), dtype=bool)
        for i in range(len(pred)):
            cand = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou:
                taken[j] = True
                tp[i] = True
    return ImageMatch(scores=scores, tp=tp, n_truth=len(truth))


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _pooled(matches: list[ImageMatch]):
    scores = np.concatenate([m.scores for m in matches]) if matches else np.zeros(0)
    tp = np.concatenate([m.tp for m in matches]) if matches else np.zeros(0, bool)
    n_truth = sum(m.n_truth for m in matches)
    order = np.argsort(-scores, kind="stable")
    return scores[order], tp[order], n_truth


def threshold_sweep(matches: list[ImageMatch]) -> dict:
    """P/R/F1 at every distinct score threshold, pooled over images.

    Returns a dict with arrays ``thresholds, precision, recall, f1`` and the
    best-F1 operating point (``best_threshold``, ``best_f1``, ...).
    """
    scores, tp, n_truth = _pooled(matches)
    if len(scores) == 0:
        return {"thresholds": np.zeros(0), "precision": np.zeros(0), "recall": np.zeros(0),
                "f1": np.zeros(0), "best_threshold": 0.0, "best_f1": 0.0,
                "best_precision": 0.0, "best_recall": 0.0}
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    # Keep the last index of each run of equal scores: a threshold keeps all ties.
    last = np.r_[scores[1:] != scores[:-1], True]
    thr, ctp, cfp = scores[last], ctp[last], cfp[last]
    precision = ctp / (ctp + cfp)
    recall = ctp / n_truth if n_truth else np.zeros_like(precision)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    b = int(np.argmax(f1))
    return {"thresholds": thr, "precision": precision, "recall": recall, "f1": f1,
            "best_threshold": float(thr[b]), "best_f1": float(f1[b]),
            "best_precision": float(precision[b]), "best_recall": float(recall[b])}


def pr_curve(sweep: dict, path, title: str = "") -> None:
    """Save the precision-recall curve of a :func:`threshold_sweep` result as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=120)
    if len(sweep["recall"]):
        ax.plot(np.r_[0, sweep["recall"]], np.r_[sweep["precision"][0], sweep["precision"]],
                drawstyle="steps-post", lw=2)
        ax.plot(sweep["best_recall"], sweep["best_precision"], "o", color="C3",
                label=f"best F1 {sweep['best_f1']:.3f} @ score {sweep['best_threshold']:.3g}")
        ax.legend(loc="lower left")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
           title=title or "precision-recall")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def coco_map(truth: dict, pred: dict, sizes: dict) -> dict:
    """mAP@0.5 and mAP@0.5:0.95 with pycocotools.

    Parameters
    ----------
    truth, pred : dict
        image key -> ``(N, 4)`` boxes (pred: ``(N, 5)`` with score last), in pixels.
    sizes : dict
        image key -> ``(height, width)``.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    keys = sorted(truth)
    images, annotations, dets = [], [], []
    for i, k in enumerate(keys, 1):
        h, w = sizes[k]
        images.append({"id": i, "width": int(w), "height": int(h)})
        for b in np.asarray(truth[k]).reshape(-1, 4):
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": 1,
                                "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                                "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0})
        for b in np.asarray(pred.get(k, np.zeros((0, 5)))).reshape(-1, 5):
            dets.append({"image_id": i, "category_id": 1, "score": float(b[4]),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    if not annotations:
        return {"map50": float("nan"), "map50_95": float("nan")}
    gt = COCO()
    gt.dataset = {"images": images, "annotations": annotations,
                  "categories": [{"id": 1, "name": "DSO"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not dets:
            return {"map50": 0.0, "map50_95": 0.0}
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [1, 10, 100]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map50": float(ev.stats[1]), "map50_95": float(ev.stats[0])}
