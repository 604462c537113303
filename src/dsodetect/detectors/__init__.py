"""Detection methods behind one interface.

``get_detector(name, **options)`` builds a method by its command-line name.
Methods are imported lazily so that optional dependencies (onnxruntime for the
learned models) are only needed by the methods that use them.
"""

from __future__ import annotations

import importlib
import importlib.util

from ..detection import Detection, Detector

__all__ = ["get_detector", "available_methods", "METHODS", "MethodUnavailable", "Detection", "Detector"]

#: Command-line name -> "module:factory". Every factory takes keyword options.
METHODS = {
    "classical": "dsodetect.detectors.classical:ClassicalDetector",
    "yolo": "dsodetect.detectors.yolo:YoloDetector",
    "xai": "dsodetect.detectors.xai:XaiDetector",
    "pix2pix": "dsodetect.detectors.pix2pix:Pix2PixDetector",
}


class MethodUnavailable(RuntimeError):
    """A method cannot run here (not built yet, missing model or dependency)."""


def available_methods() -> list[str]:
    """Names of the methods whose code is present in this installation."""
    out = []
    for name, target in METHODS.items():
        module = target.split(":")[0]
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    return out


def get_detector(name: str, **options) -> Detector:
    """Instantiate a detection method by name (``classical``, ``yolo``, ``xai``, ``pix2pix``)."""
    if name not in METHODS:
        raise MethodUnavailable(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    module_name, factory = METHODS[name].split(":")
    if importlib.util.find_spec(module_name) is None:
        raise MethodUnavailable(
            f"method {name!r} is not available in this version of dsodetect "
            f"(available: {', '.join(available_methods())})")
    module = importlib.import_module(module_name)
    return getattr(module, factory)(**options)
