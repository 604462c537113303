"""Detection methods behind one interface.

``get_detector(name, **options)`` builds a method by its command-line name.
Each method lives in ``dsodetect.detectors.<name>`` and exports its factory,
whose class declares its ``options`` (:class:`~dsodetect.detection.MethodOption`).
:data:`METHODS` says, without importing anything, where each factory is, the
Python packages it needs and its model (a name in :mod:`dsodetect.models`),
so that ``--help`` lists only the methods that can run here, quickly.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import NamedTuple

from ..detection import Detection, Detector, MethodOption

__all__ = ["Method", "get_detector", "available_methods", "method_status", "method_options", "parse_options", "METHODS",
           "MethodUnavailable", "Detection", "Detector", "MethodOption"]

class Method(NamedTuple):
    """Where a method's factory is, what it needs to run, and its default model."""

    factory: str                   # "module:Class"; the class takes keyword options
    requires: tuple[str, ...] = ()  # importable modules (e.g. onnxruntime)
    model: str | None = None       # registry name of its default model


#: Command-line name -> :class:`Method`.
METHODS = {
    "classical": Method("dsodetect.detectors.classical:ClassicalDetector", ("lightgbm",), "classical-scorer"),
    "yolo": Method("dsodetect.detectors.yolo:YoloDetector", ("onnxruntime",), "yolo11n-dso"),
    "xai": Method("dsodetect.detectors.xai:XaiDetector", ("onnxruntime", "torch", "onnx", "saliency"),
                  "xai-classifier"),
    "pix2pix": Method("dsodetect.detectors.pix2pix:Pix2PixDetector", ("onnxruntime",), "pix2pix-xai"),
}


class MethodUnavailable(RuntimeError):
    """A method cannot run here (not built yet, missing model or dependency)."""


def _factory(name: str):
    if ":" in name and name not in METHODS:  # a method of one's own: "package.module:Factory"
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise MethodUnavailable(f"cannot load method {name!r}: {exc}") from None
    if name not in METHODS:
        raise MethodUnavailable(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    module_name, factory = METHODS[name].factory.split(":")
    if importlib.util.find_spec(module_name) is None:
        raise MethodUnavailable(f"method {name!r} is not in this version of dsodetect")
    return getattr(importlib.import_module(module_name), factory)


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def method_status(name: str, *, options: bool = True) -> tuple[bool, str, tuple]:
    """``(can_run, why_not, options)`` of a method; its model is found but not loaded.

    With ``options=False`` nothing of the method is imported (for ``--help``).
    """
    if ":" in name and name not in METHODS:
        try:
            cls = _factory(name)
        except MethodUnavailable as exc:
            return False, str(exc), ()
        return True, "", tuple(getattr(cls, "options", ())) if options else ()
    if name not in METHODS:
        return False, f"unknown method {name!r}; choose from {', '.join(METHODS)}", ()
    m = METHODS[name]
    if _missing(m.factory.split(":")[0]):
        return False, "not in this version of dsodetect", ()
    for module in m.requires:
        if _missing(module):
            extra = "pip install 'dsodetect[train]'" if module in ("torch", "onnx", "saliency") else f"pip install {module}"
            return False, f"needs the Python package {module} ({extra})", ()
    opts = tuple(getattr(_factory(name), "options", ())) if options else ()
    if m.model:
        from ..models import ModelNotFound, find_model

        try:
            find_model(m.model)
        except ModelNotFound:
            return False, (f"its model {m.model!r} is not installed "
                           f"('dsodetect train {name}' makes one; 'dsodetect models' lists them)"), opts
    return True, "", opts


def available_methods() -> list[str]:
    """Names of the methods that can run in this installation (code, dependencies and model present)."""
    return [name for name in METHODS if method_status(name, options=False)[0]]


def method_options(name: str) -> dict[str, MethodOption]:
    """The options a method declares, by name."""
    return {o.name: o for o in getattr(_factory(name), "options", ())}


def parse_options(name: str, pairs) -> dict:
    """``["NAME=VALUE", ...]`` -> keyword options of method ``name``, checked and typed.

    Raises
    ------
    ValueError
        One line naming the bad option and what the method accepts.
    """
    declared = method_options(name)
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"option {pair!r}: expected NAME=VALUE")
        if key not in declared:
            raise ValueError(f"method {name!r} has no option {key!r}"
                             f" (it has: {', '.join(declared) or 'none'})")
        out[key] = declared[key].parse(value)
    return out


def get_detector(name: str, **options) -> Detector:
    """Instantiate a detection method by name (``classical``, ``yolo``, ``xai``, ``pix2pix``).

    Parameters
    ----------
    name : str
        The method's command-line name, or ``package.module:Factory`` for a
        method of one's own (any command accepts it).
    **options
        Its options (see :func:`method_options`).

    Returns
    -------
    Detector

    Raises
    ------
    MethodUnavailable
        When the method, a dependency or its model is missing here.

    Examples
    --------
    >>> get_detector("classical", star_remover="builtin").name
    'classical'
    """
    ok, why, _ = method_status(name, options=False)
    if not ok and not (why.startswith("its model") and "model" in options):
        raise MethodUnavailable(why if name not in METHODS else f"method {name!r} cannot run here: {why}")
    return _factory(name)(**options)
