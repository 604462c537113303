"""YOLO text files, the one reader and writer: labels (``class xc yc w h``) and predictions (``... score``).

Used by the outputs (``<stem>.txt``, with a score), the data-set tools (labels,
no score) and evaluation (validated reading).

A line is ``class xc yc w h [score]``: 5 or 6 fields, every one a finite
number, the class a non-negative integer, the box centre and size normalised
(``0 <= value <= 1``) with a positive width and height, the score in
``[0, 1]``. Anything else -- NaN, ``inf``, a negative or > 1 coordinate, a
zero-size box, a stray word, 4 or 7 fields -- is a rejected entry, reported as
``file:line: reason: 'text'``, never used. A file that cannot be read at all
(permission, not text) is one rejected entry with line 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..detection import Detection

__all__ = ["Rejected", "parse_label_line", "read_label_file", "read_yolo", "format_yolo", "write_yolo"]

#: Largest label file read (a YOLO file has one short line per object).
MAX_LABEL_BYTES = 16 << 20


@dataclass(frozen=True)
class Rejected:
    """One entry that was not used: ``str()`` is ``file:line: reason``."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        from .image import display_path

        where = f"{display_path(self.path)}:{self.line}" if self.line else display_path(self.path)
        return f"{where}: {self.reason}"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text[:20]!r} is not finite")
    return value


def parse_label_line(line: str) -> tuple[int, float, float, float, float, float | None] | None:
    """``(class, xc, yc, w, h, score or None)`` of one line; None for a blank line.

    Raises
    ------
    ValueError
        With the reason, when the line is not a valid normalised YOLO entry.
    """
    parts = line.split()
    if not parts:
        return None
    if len(parts) not in (5, 6):
        raise ValueError(f"expected 5 or 6 fields 'class xc yc w h [score]', got {len(parts)}")
    cls = _number(parts[0], "class")
    if cls < 0 or cls != int(cls):
        raise ValueError(f"class {parts[0][:20]!r} is not a non-negative integer")
    values = [_number(p, name) for p, name in zip(parts[1:5], ("xc", "yc", "w", "h"))]
    for name, v in zip(("xc", "yc", "w", "h"), values):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} = {v:g} is outside [0, 1] (boxes are normalised to the image size)")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"box size {values[2]:g} x {values[3]:g} is not positive")
    score = None
    if len(parts) == 6:
        score = _number(parts[5], "score")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score = {score:g} is outside [0, 1]")
    return int(cls), values[0], values[1], values[2], values[3], score


def read_label_file(path, width: float = 1, height: float = 1, *,
                    default_score: float = 1.0) -> tuple[list[Detection], list[Rejected]]:
    """The valid entries of a YOLO file as detections (pixels if ``width``/``height`` given) and the rejected ones.

    Never raises for the file's content: an unreadable file is one
    :class:`Rejected` with line 0 and no detections.
    """
    path = Path(path)
    rejected: list[Rejected] = []
    try:
        size = path.stat().st_size
        if size > MAX_LABEL_BYTES:
            return [], [Rejected(str(path), 0, f"file too large for a label file ({size / 2**20:.0f} MiB)")]
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return [], [Rejected(str(path), 0, "not a text file (invalid UTF-8)")]
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        return [], [Rejected(str(path), 0, f"unreadable ({reason})")]
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        try:
            entry = parse_label_line(line)
        except ValueError as exc:
            shown = line.strip()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            rejected.append(Rejected(str(path), i, f"{exc}: {shown!r}"))
            continue
        if entry is None:
            continue
        cls, xc, yc, w, h, score = entry
        out.append(Detection.from_normalized(xc, yc, w, h, width, height,
                                             score=default_score if score is None else score,
                                             label="DSO" if cls == 0 else str(cls)))
    return out, rejected


def read_yolo(path, width: int = 1, height: int = 1, *, default_score: float = 1.0) -> list[Detection]:
    """A YOLO label / prediction file as pixel-space detections; ``ValueError`` naming each bad line.

    Lines are ``class xc yc w h [score]`` (see :func:`parse_label_line`).
    """
    dets, rejected = read_label_file(path, width, height, default_score=default_score)
    if rejected:
        raise ValueError("; ".join(map(str, rejected[:5])) + (f" (+{len(rejected) - 5} more)" if len(rejected) > 5
                                                               else ""))
    return dets


def format_yolo(detections, width: int, height: int, *, scores: bool = True) -> str:
    """The text of a YOLO file: ``0 xc yc w h [score]`` per detection, best first when ``scores``."""
    lines = []
    if scores:
        detections = sorted(detections, key=lambda d: -d.score)
    for d in detections:
        xc, yc, bw, bh = d.normalized(width, height)
        cls = 0 if d.label in ("DSO", "") else (int(d.label) if str(d.label).isdigit() else 0)
        line = f"{cls} {xc:.6f} {yc:.6f} {bw:.6f} {bh:.6f}"
        lines.append(line + (f" {d.score:.5f}" if scores else ""))
    return "\n".join(lines) + ("\n" if lines else "")


def write_yolo(detections, width: int, height: int, path, *, scores: bool = True) -> Path:
    """Write a YOLO file atomically (see :func:`format_yolo`); an empty list writes an empty file."""
    from .atomic import atomic_write

    return atomic_write(path, format_yolo(detections, width, height, scores=scores).encode())

