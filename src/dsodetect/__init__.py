"""dsodetect: find deep-sky objects in smart-telescope images.

The pipeline reads like the package layout::

    io -> detectors -> postprocess -> identify -> outputs

>>> from dsodetect import get_detector, process, read_image
>>> result = process(read_image("stack.fits"), get_detector("yolo"), out_dir="results")  # doctest: +SKIP
>>> [(d.x0, d.y0, d.x1, d.y1, d.score) for d in result.detections]                      # doctest: +SKIP
"""

__version__ = "0.1.0"

from .detection import Detection, DetectionResult, Detector, DsodetectWarning, Product  # noqa: E402
from .detectors import available_methods, get_detector  # noqa: E402
from .io import Image, ImageReadError, read_image  # noqa: E402
from .pipeline import process, run_batch  # noqa: E402

__all__ = ["Detection", "DetectionResult", "Product", "Detector", "DsodetectWarning", "Image", "ImageReadError",
           "read_image", "get_detector", "available_methods", "process", "run_batch", "__version__"]
