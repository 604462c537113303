"""The pix2pix method: a U-Net generator that reproduces the ``xai`` heatmap in one pass, run through ONNX Runtime.

Paper approach 4. ``Pix2PixDetector().detect(image)`` runs the generator
``pix2pix-xai`` (:mod:`dsodetect.models`) on the 256 px window, returns its
heatmap as the ``heatmap`` product and one box per region of the heatmap
above the threshold (:func:`dsodetect.postprocess.heatmap_boxes`, the box
stage shared with the ``xai`` method). Frames larger than a window go through
the shared tiled inference. No torch at inference. Training: ``dsodetect
train pix2pix`` (:mod:`dsodetect.train.pix2pix`). See ``docs/pix2pix.md``.
"""

from .detector import Pix2PixDetector

__all__ = ["Pix2PixDetector"]
