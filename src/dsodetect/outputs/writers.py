"""Output writers shared by every method."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import numpy as np

from ..detection import Detection, DetectionResult
from ..io import Image, to_uint8
from ..io.atomic import atomic_write
from ..io.yolo import read_yolo, write_yolo

__all__ = ["DetectionResult", "write_yolo", "read_yolo", "write_json", "render_annotated",
           "write_outputs", "write_identify_json", "atomic_write", "FORMATS"]

#: Formats accepted by ``--format``.
FORMATS = ("yolo", "json", "png")


def write_identify_json(report, path) -> Path:
    """Write an identification report (``report.to_dict()``) as strict JSON, atomically."""
    return atomic_write(path, json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False).encode())


def write_json(result: DetectionResult, path) -> Path:
    """Write :meth:`DetectionResult.to_dict` as strict JSON (no NaN or infinity)."""
    return atomic_write(path, json.dumps(result.to_dict(), indent=2, allow_nan=False).encode())


_COLOURS = [(60, 255, 60), (255, 200, 0), (255, 80, 255), (0, 200, 255), (255, 120, 60)]


def render_annotated(image: Image, detections: list[Detection], *, max_side: int | None = None,
                     background: np.ndarray | None = None) -> np.ndarray:
    """Stretched RGB uint8 rendering with boxes, scores and names drawn on it.

    ``background``, a uint8 RGB array of the image's size (e.g. :func:`heatmap_overlay`), is drawn on in place
    instead of the image's own display.
    """
    import cv2

    if background is not None and background.shape[:2] != image.shape:
        raise ValueError(f"background is {background.shape[:2]}, the image {image.shape}")
    rgb = np.ascontiguousarray(to_uint8(image.display_rgb()) if background is None else background)
    h, w = rgb.shape[:2]
    scale = 1.0
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    thick = max(1, round(max(rgb.shape[:2]) / 400))
    font = max(0.4, max(rgb.shape[:2]) / 1400)
    for i, d in enumerate(detections):
        colour = _COLOURS[i % len(_COLOURS)]
        p0 = (int(round(d.x0 * scale)), int(round(d.y0 * scale)))
        p1 = (int(round(d.x1 * scale)) - 1, int(round(d.y1 * scale)) - 1)
        cv2.rectangle(rgb, p0, p1, colour, thick, cv2.LINE_AA)
        names = d.extras.get("names")
        text = f"{d.score:.2f}" + (f" {names[0]}" if names else "")
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = p0[1] - 4 if p0[1] - th - 4 > 0 else p0[1] + th + 4
        cv2.putText(rgb, text, (p0[0] + 2, ty), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(rgb, text, (p0[0] + 2, ty), cv2.FONT_HERSHEY_SIMPLEX, font, colour, thick, cv2.LINE_AA)
    return rgb


def write_image(path, rgb: np.ndarray, *, jpeg_quality: int = 90) -> Path:
    """Write a uint8 RGB (or gray) array atomically, as PNG or JPEG by the path's suffix.

    Encoded in memory, so OpenCV never sees the path (names that are not
    valid UTF-8 are written like any other).
    """
    import cv2

    path = Path(path)
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    if rgb.ndim == 3:
        rgb = rgb[:, :, ::-1]
    ok, buf = cv2.imencode(".jpg" if jpeg else ".png", np.ascontiguousarray(rgb),
                           [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg else [])
    if not ok:
        raise OSError(f"{path}: could not encode {'JPEG' if jpeg else 'PNG'}")
    return atomic_write(path, buf.tobytes())


def heatmap_overlay(image: Image, heat: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The image with a heatmap drawn over it (OpenCV's inferno colour map), uint8 RGB."""
    import cv2

    rgb = to_uint8(image.display_rgb())
    h, w = rgb.shape[:2]
    hm = np.clip(heat, 0, 1).astype(np.float32)
    if hm.shape != (h, w):
        hm = cv2.resize(hm, (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.cvtColor(cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    a = hm * np.float32(alpha)
    # Per-pixel weights in one OpenCV pass: a full frame's float blend took most of a second.
    return cv2.blendLinear(np.ascontiguousarray(rgb), colour, 1.0 - a, a)


def write_outputs(result: DetectionResult, out_dir, formats=FORMATS, *,
                  extras: bool = False) -> list[Path]:
    """Write the requested formats for one result into ``out_dir``.

    Files are ``<stem>.txt`` (YOLO + confidence), ``<stem>.json`` and
    ``<stem>.png`` (annotated; a ``heatmap`` product is drawn under the
    boxes). With ``extras``, each product is written as ``<stem>.<key>.png``
    (heatmaps also as ``<stem>.<key>.npy``, the raw values). When the result
    carries an identification report, ``<stem>.identify.json`` is written too.
    Every file is written atomically.

    Parameters
    ----------
    result : DetectionResult
    out_dir : path
    formats : sequence of {'yolo', 'json', 'png'}
    extras : bool
        Also write the products.

    Returns
    -------
    list of Path
        The files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h, w = result.image.shape
    stem = result.name
    written = []
    if "yolo" in formats:
        written.append(write_yolo(result.detections, w, h, out_dir / f"{stem}.txt"))
    if "json" in formats:
        written.append(write_json(result, out_dir / f"{stem}.json"))
    overlays = {}  # a heatmap's overlay is drawn once, for the annotated image and for its extra

    def overlay(key):
        if key not in overlays:
            overlays[key] = heatmap_overlay(result.image, result.products[key].data)
        return overlays[key]

    if "png" in formats:
        heat = result.products.get("heatmap")
        # render_annotated draws on its background in place: the extra below needs it clean.
        base = None if heat is None else (overlay("heatmap").copy() if extras else overlay("heatmap"))
        written.append(write_image(out_dir / f"{stem}.png",
                                   render_annotated(result.image, result.detections, background=base)))
    if result.identification is not None and hasattr(result.identification, "to_dict"):
        written.append(write_identify_json(result.identification, out_dir / f"{stem}.identify.json"))
    if extras:
        for key, prod in result.products.items():
            arr = prod.data
            if not (isinstance(arr, np.ndarray) and arr.ndim in (2, 3)):
                continue
            p = out_dir / f"{stem}.{key}.png"
            if prod.kind == "heatmap":
                buf = BytesIO()
                np.save(buf, arr.astype(np.float32))
                written.append(atomic_write(out_dir / f"{stem}.{key}.npy", buf.getvalue()))
                written.append(write_image(p, overlay(key)))
                continue
            a = arr.astype(np.float32)
            if prod.kind == "image" and not (0.0 <= a.min() and a.max() <= 1.0):
                from ..io import auto_stretch
                a = auto_stretch(a)
            written.append(write_image(p, to_uint8(a)))
    return written
