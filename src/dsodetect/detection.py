"""The detection model every method shares: :class:`Detection` and the :class:`Detector` protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Detection", "Detector", "boxes_array"]


@dataclass
class Detection:
    """One deep-sky object candidate.

    Box corners are pixel coordinates of the image array: ``x0, y0`` inclusive
    top-left, ``x1, y1`` exclusive bottom-right (so ``w = x1 - x0``).

    Attributes
    ----------
    x0, y0, x1, y1 : float
    score : float
        Confidence in [0, 1]; higher is more certain. Each method documents
        what it means (e.g. the classical detector maps integrated S/N).
    label : str
        Class name; the data sets have one class, ``"DSO"``.
    method : str
        Which detector produced it.
    extras : dict
        Optional method-specific extras: ``snr``, ``area``, a ``mask`` or
        ``heatmap`` array, catalog ``names`` after identification.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    label: str = "DSO"
    method: str = ""
    extras: dict = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.x0 + self.x1), 0.5 * (self.y0 + self.y1))

    def normalized(self, width: int, height: int) -> tuple[float, float, float, float]:
        """YOLO ``(xc, yc, w, h)`` in [0, 1] for an image of the given size."""
        xc, yc = self.center
        return (xc / width, yc / height, self.width / width, self.height / height)

    @classmethod
    def from_normalized(cls, xc, yc, w, h, width, height, **kw) -> "Detection":
        """Inverse of :meth:`normalized`."""
        return cls((xc - w / 2) * width, (yc - h / 2) * height,
                   (xc + w / 2) * width, (yc + h / 2) * height, **kw)

    def to_dict(self, width: int | None = None, height: int | None = None) -> dict:
        """JSON-ready dict; array extras (masks, heatmaps) are left out."""
        d = {"box": [round(float(v), 2) for v in (self.x0, self.y0, self.x1, self.y1)],
             "score": round(float(self.score), 4), "label": self.label, "method": self.method}
        if width and height:
            d["box_normalized"] = [round(float(v), 6) for v in self.normalized(width, height)]
        extras = {k: _jsonable(v) for k, v in self.extras.items() if not isinstance(v, np.ndarray)}
        if extras:
            d["extras"] = extras
        return d


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


@runtime_checkable
class Detector(Protocol):
    """What every method implements: ``detect(image) -> list[Detection]``.

    ``image`` is a :class:`dsodetect.io.Image`. ``name`` is the method's name on
    the command line (``classical``, ``yolo``, ``xai``, ``pix2pix``).
    """

    name: str

    def detect(self, image) -> list[Detection]:
        ...


def boxes_array(detections) -> np.ndarray:
    """``(N, 4)`` float array of ``x0, y0, x1, y1``."""
    if not detections:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([[d.x0, d.y0, d.x1, d.y1] for d in detections], dtype=np.float64)
