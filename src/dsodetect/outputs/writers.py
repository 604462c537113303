"""Output writers shared by every method."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..detection import Detection
from ..io import Image, to_uint8

__all__ = ["DetectionResult", "write_yolo", "read_yolo", "write_json", "render_annotated",
           "write_outputs", "FORMATS"]

#: Formats accepted by ``--format``.
FORMATS = ("yolo", "json", "png")


@dataclass
class DetectionResult:
    """Detections of one method on one image, with what is needed to write them."""

    image: Image
    method: str
    detections: list[Detection]
    seconds: float = 0.0
    extras: dict = field(default_factory=dict)  # e.g. starless image, masks

    @property
    def name(self) -> str:
        return self.image.name

    def to_dict(self) -> dict:
        h, w = self.image.shape
        return {
            "file": str(self.image.path) if self.image.path else None,
            "width": w, "height": h,
            "method": self.method,
            "seconds": round(self.seconds, 4),
            "dsodetect_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "observation": _observation(self.image.header),
            "detections": [d.to_dict(w, h) for d in self.detections],
        }


#: FITS keywords copied into the JSON when present (what was observed, when, how long).
OBSERVATION_KEYS = ("OBJECT", "DATE-OBS", "EXPTIME", "TOTALEXP", "STACKCNT", "TELESCOP", "INSTRUME",
                    "FOCALLEN", "XPIXSZ", "RA", "DEC", "FILTER", "GAIN")


def _observation(header) -> dict:
    if header is None:
        return {}
    out = {}
    for key in OBSERVATION_KEYS:
        if key in header:
            value = header[key]
            out[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def write_yolo(detections: list[Detection], width: int, height: int, path) -> Path:
    """Write ``0 xc yc w h conf`` lines (normalised, class 0 = DSO), best first."""
    path = Path(path)
    lines = []
    for d in sorted(detections, key=lambda d: -d.score):
        xc, yc, bw, bh = d.normalized(width, height)
        lines.append(f"0 {xc:.6f} {yc:.6f} {bw:.6f} {bh:.6f} {d.score:.5f}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    return path


def read_yolo(path, width: int = 1, height: int = 1, *, default_score: float = 1.0) -> list[Detection]:
    """Read a YOLO label / prediction file into pixel-space detections.

    Lines are ``cls xc yc w h [conf]``. Blank lines are skipped; a malformed
    line raises ``ValueError`` naming the file and line number.
    """
    path = Path(path)
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (5, 6):
            raise ValueError(f"{path}:{i}: expected 'class xc yc w h [conf]', got {line!r}")
        try:
            cls = int(float(parts[0]))
            xc, yc, bw, bh = (float(v) for v in parts[1:5])
            score = float(parts[5]) if len(parts) == 6 else default_score
        except ValueError:
            raise ValueError(f"{path}:{i}: not numbers: {line!r}") from None
        out.append(Detection.from_normalized(xc, yc, bw, bh, width, height, score=score,
                                             label="DSO" if cls == 0 else str(cls)))
    return out


def write_json(result: DetectionResult, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(result.to_dict(), indent=2))
    return path


_COLOURS = [(60, 255, 60), (255, 200, 0), (255, 80, 255), (0, 200, 255), (255, 120, 60)]


def render_annotated(image: Image, detections: list[Detection], *, max_side: int | None = None) -> np.ndarray:
    """Stretched RGB uint8 rendering with boxes, scores and names drawn on it."""
    import cv2

    rgb = to_uint8(image.display())
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    rgb = np.ascontiguousarray(rgb)
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


def _write_png(path, rgb: np.ndarray) -> None:
    import cv2

    if rgb.ndim == 3:
        rgb = rgb[:, :, ::-1]
    if not cv2.imwrite(str(path), rgb):
        raise OSError(f"{path}: could not write PNG")


def write_outputs(result: DetectionResult, out_dir, formats=FORMATS, *,
                  extras: bool = False) -> list[Path]:
    """Write the requested formats for one result into ``out_dir``.

    Files are ``<stem>.txt`` (YOLO + confidence), ``<stem>.json`` and
    ``<stem>.png`` (annotated). With ``extras``, array products in
    ``result.extras`` (``starless``, ``mask``...) are written as
    ``<stem>.<key>.png``.
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
    if "png" in formats:
        p = out_dir / f"{stem}.png"
        _write_png(p, render_annotated(result.image, result.detections))
        written.append(p)
    if extras:
        for key, arr in result.extras.items():
            if isinstance(arr, np.ndarray) and arr.ndim in (2, 3):
                p = out_dir / f"{stem}.{key}.png"
                a = arr.astype(np.float32)
                if arr.dtype == bool:
                    a = a * 1.0
                elif not (0.0 <= a.min() and a.max() <= 1.0):
                    from ..io import auto_stretch
                    a = auto_stretch(a)
                _write_png(p, to_uint8(a))
                written.append(p)
    return written
