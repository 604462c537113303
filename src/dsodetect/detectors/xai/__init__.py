"""The xai method (the paper's approach 3): presence classifier + XRAI heatmap -> boxes.

``XaiDetector().detect(patch)`` classifies a 224 px patch with the ONNX model
``xai-classifier`` (:mod:`dsodetect.models`); a positive patch is explained by
XRAI (``saliency``, on the torch network rebuilt from that same file), and the
top X % of the attribution, weighted by the probability, becomes the heatmap
product and, through :func:`dsodetect.postprocess.heatmap_boxes`, the boxes.
Tiles and full frames go through the shared tiled inference. Needs torch and
saliency (the ``train`` extra). Training: ``dsodetect train classifier``
(:mod:`dsodetect.train.classifier`). See ``docs/xai.md``.
"""

from .detector import BASELINES, XaiDetector

__all__ = ["XaiDetector", "BASELINES"]
