"""Evaluate predictions against truth: in memory, or from folders of YOLO txt files."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

from ..detection import DsodetectWarning, boxes_array
from ..io.yolo import Rejected, read_label_file
from .metrics import ImageMatch, coco_map, match_image, pr_curve, prf, threshold_sweep

__all__ = ["evaluate", "evaluate_folders", "load_labels", "format_report", "MalformedLabels"]

#: Rejected entries listed in an error message or a report summary.
_SHOWN = 20


def check_iou(iou) -> float:
    """``iou`` as a float when ``0 < iou <= 1``, else ValueError."""
    try:
        value = float(iou)
    except (TypeError, ValueError):
        raise ValueError(f"--iou must be a number in (0, 1], got {iou!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"--iou must be in (0, 1], got {iou!r}")
    return value


def check_score(score):
    """``score`` as a float when it is None or ``0 <= score <= 1``, else ValueError."""
    if score is None:
        return None
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise ValueError(f"--min-score must be a number in [0, 1], got {score!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"--min-score must be in [0, 1], got {score!r}")
    return value


class MalformedLabels(ValueError):
    """Label or prediction entries failed validation; ``rejected`` lists each (file, line, reason)."""

    def __init__(self, rejected: list[Rejected]):
        self.rejected = list(rejected)
        lines = [f"{len(self.rejected)} malformed label/prediction entr{'y' if len(self.rejected) == 1 else 'ies'}, "
                 f"nothing evaluated (fix them, or evaluate with strict=False to skip them):"]
        lines += [f"  {r}" for r in self.rejected[:_SHOWN]]
        if len(self.rejected) > _SHOWN:
            lines.append(f"  ... and {len(self.rejected) - _SHOWN} more")
        super().__init__("\n".join(lines))


def _check_detections(kind: str, items: dict) -> None:
    for key, dets in items.items():
        for d in dets:
            values = (d.x0, d.y0, d.x1, d.y1, d.score)
            if not all(np.isfinite(v) for v in values):
                raise ValueError(f"{kind} {key!r}: a detection has a non-finite box or score {values}")
            if d.x1 <= d.x0 or d.y1 <= d.y0:
                raise ValueError(f"{kind} {key!r}: a detection has no positive size {values[:4]}")


def evaluate(pred: dict, truth: dict, *, iou: float = 0.5, min_score: float | None = None,
             sizes: dict | None = None) -> dict:
    """Score detections against truth, pooled over images.

    Parameters
    ----------
    pred, truth : dict
        image key -> list of :class:`Detection` (pixels, or normalised with
        ``sizes`` omitted: IoU does not change under per-axis scaling).
        Images in ``truth`` missing from ``pred`` count as predicting nothing.
    iou : float
        IoU needed for a match (the paper uses 0.5).
    min_score : float, optional
        Operating threshold for the headline P/R/F1; default keeps every
        prediction. The best-F1 threshold of the sweep is reported as well.
    sizes : dict, optional
        image key -> ``(height, width)`` for COCO areas (default 1 x 1).

    Returns
    -------
    dict
        ``precision, recall, f1, tp, fp, fn`` at ``min_score``; ``best_*``
        from the sweep; ``map50`` and ``map50_95`` (pycocotools);
        ``per_image`` rows; ``matches`` and ``sweep`` (the full
        :func:`threshold_sweep`, for plotting; not JSON).
    """
    iou = check_iou(iou)
    min_score = check_score(min_score)
    _check_detections("prediction", pred)
    _check_detections("truth", truth)
    unknown = sorted(set(pred) - set(truth))
    if unknown:
        warnings.warn(f"{len(unknown)} prediction(s) have no truth and are ignored: {unknown[:5]}",
                      DsodetectWarning, stacklevel=2)
    thr = -np.inf if min_score is None else float(min_score)
    matches: dict[str, ImageMatch] = {}
    rows = []
    for key in sorted(truth):
        p = pred.get(key, [])
        m = match_image(boxes_array(p), np.array([d.score for d in p]), boxes_array(truth[key]), iou)
        matches[key] = m
        tp, fp, fn = m.counts(thr)
        rows.append({"image": key, "n_truth": m.n_truth, "n_pred": tp + fp, "tp": tp, "fp": fp, "fn": fn,
                     "max_score": round(float(m.scores.max()), 4) if len(m.scores) else None})
    tp = sum(r["tp"] for r in rows)
    fp = sum(r["fp"] for r in rows)
    fn = sum(r["fn"] for r in rows)
    p, r, f = prf(tp, fp, fn)
    sweep = threshold_sweep(list(matches.values()))
    sizes = sizes or {}
    mp = coco_map({k: boxes_array(v) for k, v in truth.items()},
                  {k: np.column_stack([boxes_array(v), [d.score for d in v]]) if v else np.zeros((0, 5))
                   for k, v in pred.items() if k in truth},
                  {k: sizes.get(k, (1, 1)) for k in truth})
    return {
        "iou": iou, "min_score": None if min_score is None else float(min_score),
        "images": len(truth), "n_truth": tp + fn, "n_pred": tp + fp,
        "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f,
        "best_threshold": sweep["best_threshold"], "best_f1": sweep["best_f1"],
        "best_precision": sweep["best_precision"], "best_recall": sweep["best_recall"],
        "map50": mp["map50"], "map50_95": mp["map50_95"],
        "missing_predictions": sorted(set(truth) - set(pred)),
        "per_image": rows, "matches": matches, "sweep": sweep,
    }


def _label_dir(folder: Path) -> Path:
    return folder / "labels" if (folder / "labels").is_dir() else folder


def load_labels(folder, *, sizes: dict | None = None, rejected: list | None = None) -> dict:
    """Read every ``<stem>.txt`` of a folder (or its ``labels/``) as detections.

    Boxes are scaled to pixels when ``sizes[stem] = (h, w)`` is given, else
    kept normalised. Entries that fail validation
    (:func:`~dsodetect.io.yolo.parse_label_line`) are left out and
    appended to ``rejected`` as :class:`~dsodetect.io.yolo.Rejected`
    (file, line, reason); without a ``rejected`` list they raise
    :class:`MalformedLabels`. An unreadable file is left out entirely.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    out, errors, bad_files = {}, [], []
    for f in sorted(_label_dir(folder).glob("*.txt")):
        if f.name == "classes.txt":
            continue
        h, w = (sizes or {}).get(f.stem, (1, 1))
        dets, bad = read_label_file(f, w, h)
        if any(r.line == 0 for r in bad):
            bad_files.extend(bad)
            continue
        errors.extend(bad)
        out[f.stem] = dets
    errors = bad_files + errors
    if errors and rejected is None:
        raise MalformedLabels(errors)
    if rejected is not None:
        rejected.extend(errors)
    return out


def evaluate_folders(pred_dir, truth_dir, *, iou: float = 0.5, min_score: float | None = None,
                     out_dir=None, strict: bool = True) -> dict:
    """Evaluate ``<pred_dir>/<stem>.txt`` against ``<truth_dir>[/labels]/<stem>.txt``.

    With ``out_dir``, writes ``report.json``, ``per_image.csv`` (TP/FP/FN per
    image, to look at failures) and ``pr_curve.png``.

    Options are checked first (``0 < iou <= 1``, ``0 <= min_score <= 1``:
    ValueError). Every entry of every file is validated; ``strict`` (the
    default) refuses to score anything when one fails (:class:`MalformedLabels`,
    a ValueError listing each file and line), ``strict=False`` leaves them
    out and lists them in ``report["rejected"]`` (and in the summary). An
    unreadable truth file drops its image; an unreadable prediction file
    counts as predicting nothing. Both are listed.
    """
    iou = check_iou(iou)
    min_score = check_score(min_score)
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    rejected: list[Rejected] = []
    truth_n = load_labels(truth_dir, rejected=rejected)
    pred_n = load_labels(pred_dir, rejected=rejected)
    if strict and rejected:
        raise MalformedLabels(rejected)
    if not truth_n:
        raise ValueError(f"{truth_dir}: no label files (<stem>.txt) found")
    if not pred_n:
        raise ValueError(f"{pred_dir}: no prediction files (<stem>.txt) found")
    # Normalised boxes are scored as they are: IoU does not change under
    # per-axis scaling, and the COCO figures use the all-areas range.
    report = evaluate(pred_n, truth_n, iou=iou, min_score=min_score)
    report["pred_dir"], report["truth_dir"] = str(pred_dir), str(truth_dir)
    report["rejected"] = [str(r) for r in rejected]
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # File stems may hold bytes that are not UTF-8 (kept as surrogates): written back as they were.
        with open(out_dir / "per_image.csv", "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(report["per_image"][0]))
            writer.writeheader()
            writer.writerows(report["per_image"])
        from ..io.image import display_path

        pr_curve(report["sweep"], out_dir / "pr_curve.png",
                 title=f"{display_path(pred_dir.name)} vs {display_path(truth_dir.name)} (IoU {iou:g})")
        from ..io.jsontext import strict_json

        (out_dir / "report.json").write_text(strict_json(
            {k: v for k, v in report.items() if k not in ("matches", "sweep", "per_image")}, indent=2))
    return report


def format_report(report: dict) -> str:
    """A short human-readable summary."""
    thr = "all predictions" if report["min_score"] is None else f"score >= {report['min_score']:g}"
    lines = [
        f"images {report['images']}  truth boxes {report['n_truth']}  predictions {report['n_pred']}  "
        f"(IoU >= {report['iou']:g}, {thr})",
        f"precision {report['precision']:.3f}  recall {report['recall']:.3f}  F1 {report['f1']:.3f}  "
        f"(TP {report['tp']}, FP {report['fp']}, FN {report['fn']})",
        f"best F1 {report['best_f1']:.3f} at score >= {report['best_threshold']:.4g} "
        f"(P {report['best_precision']:.3f}, R {report['best_recall']:.3f}; threshold chosen on this set)",
        f"mAP@0.5 {report['map50']:.3f}  mAP@0.5:0.95 {report['map50_95']:.3f}  (pycocotools)",
    ]
    if report["missing_predictions"]:
        n = len(report["missing_predictions"])
        lines.append(f"note: {n} image(s) have no prediction file and count as predicting nothing")
    rejected = report.get("rejected") or []
    if rejected:
        lines.append(f"rejected {len(rejected)} malformed entr{'y' if len(rejected) == 1 else 'ies'} (not used):")
        lines += [f"  {r}" for r in rejected[:_SHOWN]]
        if len(rejected) > _SHOWN:
            lines.append(f"  ... and {len(rejected) - _SHOWN} more (all in report.json)")
    return "\n".join(lines)
