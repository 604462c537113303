"""dsodetect: find deep-sky objects in smart-telescope images.

The pipeline reads like the package layout::

    io -> detectors -> postprocess -> identify -> outputs

>>> from dsodetect import read_image, get_detector
>>> image = read_image("stack.fits")                     # doctest: +SKIP
>>> detections = get_detector("classical").detect(image)  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .detection import Detection, Detector  # noqa: E402
from .detectors import available_methods, get_detector  # noqa: E402
from .io import Image, ImageReadError, read_image  # noqa: E402

__all__ = ["Detection", "Detector", "Image", "ImageReadError", "read_image", "get_detector",
           "available_methods", "__version__"]
