"""The detection model every method shares.

- :class:`Detection`: one box with its score;
- :class:`Product`: an array a method makes besides its boxes (heatmap,
  starless image, mask), with what it means;
- :class:`DetectionResult`: what ``detect(image)`` returns: detections plus
  named products, and, once the pipeline has run, the identification report;
- :class:`Detector`: the protocol every method implements, with the
  :class:`MethodOption` s it declares for the command line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Detection", "Product", "DetectionResult", "MethodOption", "Detector", "DsodetectWarning",
           "boxes_array", "as_result"]


class DsodetectWarning(UserWarning):
    """Base class of the warnings dsodetect emits (filter them with ``warnings.filterwarnings``)."""


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


@dataclass
class Product:
    """An array a method makes besides its boxes.

    Attributes
    ----------
    data : ndarray
        ``(H, W)`` or ``(H, W, 3)``; its own resolution (a method may work on
        a reduced image), so scale it to the frame when drawing.
    kind : {'heatmap', 'image', 'mask'}
        ``heatmap``: float attribution / objectness in [0, 1]; ``image``:
        float pixels in the image's units (e.g. the starless image); ``mask``:
        bool.
    description : str
        What it shows, in one line (written into the JSON output).
    """

    data: np.ndarray
    kind: str
    description: str = ""

    KINDS = ("heatmap", "image", "mask")

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(f"product kind must be one of {self.KINDS}, got {self.kind!r}")


@dataclass
class DetectionResult:
    """What one method found on one image.

    Attributes
    ----------
    image : dsodetect.io.Image
        The image detected on (writers need its size, pixels and header).
    method : str
        The method's command-line name.
    detections : list of Detection
        Best first after the pipeline; in image pixels.
    products : dict of str -> Product
        Named arrays (``heatmap``, ``starless``, ``star_mask``...).
    seconds : float
        Wall time of detection.
    identification : object or None
        The :class:`~dsodetect.identify.IdentifyReport` when the pipeline
        identified the objects.

    Examples
    --------
    >>> import numpy as np
    >>> from dsodetect.io import Image
    >>> r = DetectionResult(Image(np.zeros((4, 4), np.float32)), "toy", [Detection(0, 0, 2, 2, 0.9)])
    >>> r.name, len(r.detections)
    ('image', 1)
    """

    image: Any
    method: str
    detections: list[Detection]
    products: dict[str, Product] = field(default_factory=dict)
    seconds: float = 0.0
    identification: Any = None

    @property
    def name(self) -> str:
        """Output stem of the image."""
        return self.image.name

    def to_dict(self) -> dict:
        """JSON-ready summary: file, size, method, observation headers, detections, products."""
        from . import __version__

        h, w = self.image.shape
        d = {
            "file": str(self.image.path) if self.image.path else None,
            "width": w, "height": h,
            "method": self.method,
            "seconds": round(self.seconds, 4),
            "dsodetect_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "observation": _observation(self.image.header),
            "detections": [det.to_dict(w, h) for det in self.detections],
        }
        meta = getattr(self.image, "meta", None) or {}
        if "flattened" in meta:  # what the detector saw was not the file's pixels (--flatten)
            d["flattened"] = meta["flattened"]
        if self.products:
            d["products"] = {k: {"kind": p.kind, "shape": list(p.data.shape), "description": p.description}
                             for k, p in self.products.items()}
        return d


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
            if isinstance(value, float) and not np.isfinite(value):
                continue  # strict JSON: a header's inf/nan is not an observation
            out[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


@dataclass(frozen=True)
class MethodOption:
    """An option a method declares; the command line exposes it as ``--option name=value``.

    Attributes
    ----------
    name : str
        Keyword argument of the method's constructor.
    type : type
        ``str``, ``int``, ``float`` or ``bool``; values given as text are parsed with it.
    default : object
    help : str
    choices : tuple of str, optional
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()

    def parse(self, text: str):
        """Parse a command-line value; ``ValueError`` with a one-line reason when it is not valid."""
        if self.type is bool:
            low = text.strip().lower()
            if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(f"option {self.name}: expected true or false, got {text!r}")
            value = low in {"1", "true", "yes", "on"}
        else:
            try:
                value = self.type(text)
            except ValueError:
                raise ValueError(f"option {self.name}: expected {self.type.__name__}, got {text!r}") from None
        if self.choices and value not in self.choices:
            raise ValueError(f"option {self.name}: choose from {', '.join(map(str, self.choices))}, got {text!r}")
        return value


@runtime_checkable
class Detector(Protocol):
    """What every method implements: ``detect(image) -> DetectionResult``.

    ``image`` is a :class:`dsodetect.io.Image`. ``name`` is the method's name on
    the command line (``classical``, ``yolo``, ``xai``, ``pix2pix``).
    ``options`` lists the constructor options the command line exposes.
    ``tile_size`` is the input size the method was made for (``None``: any
    size in one pass); frames larger than a tile go through
    :func:`dsodetect.postprocess.detect_tiled`. A method may add
    ``detect_batch(images) -> list[DetectionResult]``.
    """

    name: str

    def detect(self, image) -> DetectionResult:
        ...


def as_result(found, image, method: str) -> DetectionResult:
    """A detector's return value as a :class:`DetectionResult` (a plain list of detections is accepted)."""
    if isinstance(found, DetectionResult):
        return found
    return DetectionResult(image=image, method=method, detections=list(found))


def boxes_array(detections) -> np.ndarray:
    """``(N, 4)`` float array of ``x0, y0, x1, y1``."""
    if not detections:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([[d.x0, d.y0, d.x1, d.y1] for d in detections], dtype=np.float64)
