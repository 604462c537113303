"""Evaluation: greedy one-to-one matching at IoU 0.5 (the paper's protocol), P/R/F1,
threshold sweep, mAP via pycocotools, PR curve and per-image CSV."""

from .folders import MalformedLabels, evaluate, evaluate_folders, format_report, load_labels
from ..io.yolo import Rejected, parse_label_line, read_label_file
from .metrics import ImageMatch, coco_map, match_image, pr_curve, prf, threshold_sweep

__all__ = ["evaluate", "evaluate_folders", "format_report", "load_labels", "match_image", "prf",
           "threshold_sweep", "pr_curve", "coco_map", "ImageMatch", "MalformedLabels", "Rejected",
           "parse_label_line", "read_label_file"]
