"""The classical ("naive") method: model-free star removal, diffuse emission, boxes.

``ClassicalDetector(star_remover="builtin"|"starnet").detect(image)`` returns
a :class:`dsodetect.detection.DetectionResult`: the boxes, and the products
``starless`` (image), ``star_mask`` and ``diffuse_mask`` (masks) at the
working resolution (the image's size up to 1600 px on the long side).
See ``docs/classical.md``.
"""

from .detector import ClassicalDetector, ClassicalParams

__all__ = ["ClassicalDetector", "ClassicalParams"]
