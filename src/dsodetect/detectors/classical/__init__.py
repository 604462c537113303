"""The classical ("naive") method: model-free star removal, diffuse emission, boxes.

``ClassicalDetector(star_remover="builtin"|"starnet").detect(image)`` returns
:class:`dsodetect.detection.Detection` boxes; after each call
``last_products`` holds ``starless`` (float), ``star_mask`` and
``diffuse_mask`` (bool) arrays at the working resolution (the image's size
up to 1600 px on the long side). See ``docs/classical.md``.
"""

from .detector import ClassicalDetector, ClassicalParams

__all__ = ["ClassicalDetector", "ClassicalParams"]
