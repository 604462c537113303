"""Does more integration, or merging two sessions, add objects?

The paper proposes pooling the stacks of several observers (collaborative data
merging). ``compare_stacks`` runs the same methods on two stacks of the same
field and lists the objects gained, lost and kept, with their score and S/N
change. When both stacks carry a celestial WCS, B's boxes are mapped into A's
pixels through the sky, so stacks framed differently still compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detection import boxes_array
from ..io import read_image
from ..pipeline import run_detector
from .integration import integration_seconds
from .snr import detection_snr, format_duration
from .tracking import match_boxes

__all__ = ["compare_stacks", "format_comparison", "map_boxes_wcs"]


def map_boxes_wcs(boxes: np.ndarray, wcs_from, wcs_to) -> np.ndarray:
    """Map ``(N, 4)`` pixel boxes from one image's WCS to another's (bounding box of the corners)."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    if not len(boxes):
        return boxes
    xs = boxes[:, [0, 2, 2, 0]].ravel()
    ys = boxes[:, [1, 1, 3, 3]].ravel()
    sky = wcs_from.pixel_to_world(xs, ys)
    x2, y2 = wcs_to.world_to_pixel(sky)
    x2 = np.asarray(x2).reshape(-1, 4)
    y2 = np.asarray(y2).reshape(-1, 4)
    return np.column_stack([x2.min(1), y2.min(1), x2.max(1), y2.max(1)])


def compare_stacks(path_a, path_b, detectors, *, min_iou: float = 0.3, identify=None) -> dict:
    """Compare the detections of two stacks of the same field.

    Parameters
    ----------
    path_a, path_b : path-like
        The earlier / shorter stack and the later / longer or merged one.
    detectors : list of Detector
    min_iou : float
        Overlap that makes two boxes the same object.
    identify : callable, optional
        Name hook, as in the live session.

    Returns
    -------
    dict
        ``a`` and ``b`` (file, integration, count), ``gained`` (in B only),
        ``lost`` (in A only) and ``kept`` (both, with score and S/N change),
        ``aligned_by`` (``"wcs"`` or ``"pixels"``). Raises ImageReadError.
    """
    images = [read_image(path_a), read_image(path_b)]
    out = {"aligned_by": "pixels", "methods": [d.name for d in detectors], "gained": [], "lost": [], "kept": []}
    dets = []
    for key, img in zip("ab", images):
        found = []
        for det in detectors:
            found.extend(run_detector(det, img).detections)
        if identify is not None:
            identify(img, found)
        dets.append(found)
        seconds, source = integration_seconds(img.header, img.path)
        out[key] = {"file": str(img.path), "seconds": seconds, "seconds_source": source, "count": len(found)}
    snr_a, snr_b = (detection_snr(img, found).tolist() for img, found in zip(images, dets))
    boxes_a, boxes_b = boxes_array(dets[0]), boxes_array(dets[1])
    if images[0].wcs is not None and images[1].wcs is not None and len(boxes_b):
        boxes_b = map_boxes_wcs(boxes_b, images[1].wcs, images[0].wcs)
        out["aligned_by"] = "wcs"
    pairs = match_boxes(boxes_a, boxes_b, min_iou)

    def entry(d, snr, box=None):
        e = {"box": [round(float(v), 1) for v in (box if box is not None else (d.x0, d.y0, d.x1, d.y1))],
             "score": round(float(d.score), 4), "snr": round(snr, 2), "method": d.method}
        if d.extras.get("names"):
            e["names"] = list(d.extras["names"])
        return e

    matched_a = {i for i, _, _ in pairs}
    matched_b = {j for _, j, _ in pairs}
    for i, j, iou in pairs:
        da, db = dets[0][i], dets[1][j]
        out["kept"].append({"a": entry(da, snr_a[i]), "b": entry(db, snr_b[j], boxes_b[j]), "iou": round(iou, 3),
                            "score_change": round(float(db.score - da.score), 4),
                            "snr_change": round(snr_b[j] - snr_a[i], 2)})
    out["gained"] = [entry(d, snr_b[j], boxes_b[j]) for j, d in enumerate(dets[1]) if j not in matched_b]
    out["lost"] = [entry(d, snr_a[i]) for i, d in enumerate(dets[0]) if i not in matched_a]
    return out


def format_comparison(report: dict) -> str:
    """Human-readable summary of :func:`compare_stacks`."""
    a, b = report["a"], report["b"]

    def label(e):
        return (e.get("names") or ["object at ({:.0f}, {:.0f})".format((e["box"][0] + e["box"][2]) / 2,
                                                                          (e["box"][1] + e["box"][3]) / 2)])[0]

    lines = [f"A: {Path(a['file']).name}  {format_duration(a['seconds'])} ({a['seconds_source']}), {a['count']} object(s)",
             f"B: {Path(b['file']).name}  {format_duration(b['seconds'])} ({b['seconds_source']}), {b['count']} object(s)",
             f"aligned by {report['aligned_by']}; "
             f"{len(report['gained'])} gained, {len(report['lost'])} lost, {len(report['kept'])} kept"]
    for e in report["gained"]:
        lines.append(f"  + {label(e)}: score {e['score']:.2f}, S/N {e['snr']:.1f}")
    for e in report["lost"]:
        lines.append(f"  - {label(e)}: score {e['score']:.2f}, S/N {e['snr']:.1f}")
    for k in report["kept"]:
        lines.append(f"  = {label(k['b'])}: score {k['a']['score']:.2f} -> {k['b']['score']:.2f} "
                     f"({k['score_change']:+.2f}), S/N {k['a']['snr']:.1f} -> {k['b']['snr']:.1f}")
    return "\n".join(lines)
