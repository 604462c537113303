"""Does more integration, or merging two sessions, add objects?

The paper proposes pooling the stacks of several observers (collaborative data
merging). ``compare_stacks`` runs the same methods on two stacks of the same
field and lists the objects gained, lost and kept, with their score and S/N
change.

The stacks are registered first (:func:`register_stacks`): their stars are
matched with astroalign (triangle asterisms, a similarity transform: shift,
rotation, scale) and B's boxes are mapped into A's pixels; the report says how
much of A's frame B covers. Two stacks whose stars have no pattern in common
are refused (:class:`FieldMismatch`) unless both carry a celestial WCS whose
frames overlap (then the sky maps the boxes). With too few stars in either to
register (fewer than 5), same-size stacks are compared pixel for pixel and the
report says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detection import boxes_array
from ..io import ImageReadError, read_image
from ..pipeline import process
from .integration import integration_seconds
from .snr import detection_snr, format_duration
from .tracking import match_boxes

__all__ = ["compare_stacks", "format_comparison", "map_boxes_wcs", "register_stacks", "FieldMismatch",
           "MIN_OVERLAP"]

#: Least fraction of A's frame that B must cover to be compared.
MIN_OVERLAP = 0.1


class FieldMismatch(ImageReadError):
    """The two stacks do not show the same field (``str()``: one line naming B and why)."""


def _stars(image, n: int = 200) -> np.ndarray:
    from ..identify.solver import extract_stars

    try:
        return extract_stars(image, max_stars=n)[:, :2]
    except Exception:
        return np.zeros((0, 2))


def _map(transform, xy):
    xy = np.asarray(xy, float).reshape(-1, 2)
    return transform(xy) if callable(transform) else xy


def _overlap(transform_b_to_a, shape_a, shape_b, n: int = 120) -> float:
    """Fraction of A's frame that B's frame covers (sampled on an ``n`` x ``n`` grid)."""
    ha, wa = shape_a
    hb, wb = shape_b
    gy, gx = np.mgrid[0:n, 0:n]
    pts = np.column_stack([(gx.ravel() + 0.5) * wa / n, (gy.ravel() + 0.5) * ha / n])
    inv = transform_b_to_a.inverse
    pb = inv(pts)
    inside = (pb[:, 0] >= 0) & (pb[:, 0] < wb) & (pb[:, 1] >= 0) & (pb[:, 1] < hb)
    return float(inside.mean())


def register_stacks(image_a, image_b) -> dict:
    """Register B onto A by their stars.

    Returns
    -------
    dict
        ``by``: ``"stars"``, ``"wcs"`` or ``"pixels"``; ``transform``: a callable
        mapping B pixels ``(N, 2)`` to A pixels (None for ``"pixels"``);
        ``overlap``: fraction of A's frame covered by B; ``shift_px``,
        ``rotation_deg``, ``scale``, ``matched_stars`` (for ``"stars"``);
        ``note``: a line for the report when something was assumed.

    Raises
    ------
    FieldMismatch
        No common star pattern (nor an overlapping WCS), or too little overlap.
    """
    import astroalign
    from skimage.transform import SimilarityTransform

    sa, sb = _stars(image_a), _stars(image_b)
    name_a = image_a.path.name if image_a.path is not None else image_a.name
    name_b = image_b.path.name if image_b.path is not None else image_b.name
    both_wcs = image_a.wcs is not None and image_b.wcs is not None
    if len(sa) >= 5 and len(sb) >= 5:
        try:
            t, (src, _) = astroalign.find_transform(sb, sa, max_control_points=50)
        except (astroalign.MaxIterError, ValueError, TypeError) as exc:
            t, src, err = None, [], str(exc)
        if t is not None:
            ov = _overlap(t, image_a.shape, image_b.shape)
            reg = {"by": "stars", "transform": t, "overlap": ov, "matched_stars": int(len(src)),
                   "shift_px": [round(float(v), 1) for v in t.translation],
                   "rotation_deg": round(float(np.degrees(t.rotation)), 2), "scale": round(float(t.scale), 4),
                   "note": ""}
            if ov < MIN_OVERLAP:
                raise FieldMismatch(image_b.path or name_b, f"covers only {ov:.0%} of {name_a}'s frame; "
                                                          f"compare needs two stacks of the same field")
            return reg
        if not both_wcs:
            raise FieldMismatch(image_b.path or name_b,
                                f"not the same field as {name_a}: no star pattern in common ({len(sa)} and "
                                f"{len(sb)} stars; {err}); compare needs two stacks of the same field")
    if both_wcs:
        hb, wb = image_b.shape
        grid = np.array([[x, y] for x in np.linspace(0, wb, 5) for y in np.linspace(0, hb, 5)])
        mapped = map_boxes_wcs(np.column_stack([grid, grid]), image_b.wcs, image_a.wcs)[:, :2]
        t = SimilarityTransform()
        t.estimate(grid, mapped)
        ov = _overlap(t, image_a.shape, image_b.shape)
        if ov < MIN_OVERLAP:
            raise FieldMismatch(image_b.path or name_b, f"its sky (WCS) covers only {ov:.0%} of {name_a}'s frame; "
                                                      f"compare needs two stacks of the same field")
        return {"by": "wcs", "transform": t, "overlap": ov, "note": "registered by the headers' WCS"}
    if image_a.shape != image_b.shape:
        raise FieldMismatch(image_b.path or name_b,
                            f"too few stars to register ({len(sa)} and {len(sb)}) and a different frame size "
                            f"from {name_a}; compare needs two stacks of the same field")
    return {"by": "pixels", "transform": None, "overlap": 1.0,
            "note": f"too few stars to register ({len(sa)} and {len(sb)}): compared pixel for pixel"}


def _map_boxes(transform, boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    if transform is None or not len(boxes):
        return boxes
    xs = boxes[:, [0, 2, 2, 0]].ravel()
    ys = boxes[:, [1, 1, 3, 3]].ravel()
    p = transform(np.column_stack([xs, ys]))
    x2, y2 = p[:, 0].reshape(-1, 4), p[:, 1].reshape(-1, 4)
    return np.column_stack([x2.min(1), y2.min(1), x2.max(1), y2.max(1)])


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
        ``aligned_by`` (``"stars"``, ``"wcs"`` or ``"pixels"``), ``overlap`` (fraction of A's
        frame that B covers) and ``registration`` (shift, rotation, scale, matched stars).
        Raises ImageReadError, and :class:`FieldMismatch` (a subclass) for two different fields.
    """
    images = [read_image(path_a), read_image(path_b)]
    reg = register_stacks(*images)
    out = {"aligned_by": reg["by"], "overlap": round(reg["overlap"], 3),
           "registration": {k: v for k, v in reg.items() if k not in ("transform", "by", "overlap")},
           "methods": [d.name for d in detectors], "gained": [], "lost": [], "kept": []}
    dets = []
    for key, img in zip("ab", images):
        found = []
        for det in detectors:
            found.extend(process(img, det).detections)
        if identify is not None:
            identify(img, found)
        dets.append(found)
        seconds, source = integration_seconds(img.header, img.path)
        out[key] = {"file": str(img.path), "seconds": seconds, "seconds_source": source, "count": len(found)}
    snr_a, snr_b = (detection_snr(img, found).tolist() for img, found in zip(images, dets))
    boxes_a, boxes_b = boxes_array(dets[0]), _map_boxes(reg["transform"], boxes_array(dets[1]))
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
             f"aligned by {report['aligned_by']}{_how(report)}; B covers {report.get('overlap', 1.0):.0%} of A's frame; "
             f"{len(report['gained'])} gained, {len(report['lost'])} lost, {len(report['kept'])} kept"]
    note = (report.get("registration") or {}).get("note")
    if note:
        lines.append(f"note: {note}")
    for e in report["gained"]:
        lines.append(f"  + {label(e)}: score {e['score']:.2f}, S/N {e['snr']:.1f}")
    for e in report["lost"]:
        lines.append(f"  - {label(e)}: score {e['score']:.2f}, S/N {e['snr']:.1f}")
    for k in report["kept"]:
        lines.append(f"  = {label(k['b'])}: score {k['a']['score']:.2f} -> {k['b']['score']:.2f} "
                     f"({k['score_change']:+.2f}), S/N {k['a']['snr']:.1f} -> {k['b']['snr']:.1f}")
    return "\n".join(lines)


def _how(report: dict) -> str:
    r = report.get("registration") or {}
    if report.get("aligned_by") != "stars":
        return ""
    return (f" ({r['matched_stars']} stars: shift {r['shift_px'][0]:+.1f}, {r['shift_px'][1]:+.1f} px, "
            f"rotation {r['rotation_deg']:+.2f} deg, scale {r['scale']:.3f})")
