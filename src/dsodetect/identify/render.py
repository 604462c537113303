"""Annotated image for identification: detections with names, plus the expected objects not detected."""

from __future__ import annotations

import numpy as np

from .geometry import object_ellipse

__all__ = ["render_identified"]

_MISSING = (255, 90, 60)


def render_identified(image, report, *, max_side: int | None = None) -> np.ndarray:
    """RGB uint8: :func:`~dsodetect.outputs.render_annotated` (boxes, scores, names) with
    each missing catalog object drawn as its catalog ellipse and labelled ``"<name>?"``."""
    import cv2

    from ..outputs import render_annotated

    rgb = render_annotated(image, report.detections, max_side=max_side)
    if not report.solution.ok or not report.missing:
        return rgb
    h, w = image.shape
    scale = rgb.shape[1] / w
    thick = max(1, round(max(rgb.shape[:2]) / 600))
    font = max(0.4, max(rgb.shape[:2]) / 1400)
    for obj in report.missing:
        x, y, a, b, t = object_ellipse(obj, report.solution.wcs)
        centre = (int(round(x * scale)), int(round(y * scale)))
        axes = (max(2, int(round(a * scale))), max(2, int(round(b * scale))))
        cv2.ellipse(rgb, centre, axes, float(np.degrees(t)), 0, 360, _MISSING, thick, cv2.LINE_AA)
        text = f"{obj.label}?"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        # Keep the label on the image even when the object sits at the edge.
        org = (int(np.clip(centre[0] + 4, 2, rgb.shape[1] - tw - 2)),
               int(np.clip(centre[1] - axes[1] - 4, th + 2, rgb.shape[0] - 4)))
        cv2.putText(rgb, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(rgb, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, _MISSING, thick, cv2.LINE_AA)
    return rgb
