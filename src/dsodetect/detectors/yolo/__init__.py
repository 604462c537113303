"""The YOLO method: a YOLO11 detector trained on the real tiles, run through ONNX Runtime (no torch).

``YoloDetector().detect(image)`` letterboxes the image to the network's input,
runs the model ``yolo11n-dso`` (:mod:`dsodetect.models`), inverts the
letterbox exactly and suppresses duplicates with the shared NMS. Frames
larger than a tile go through the shared tiled inference
(:func:`dsodetect.postprocess.detect_tiled`). Training: ``dsodetect train
yolo`` (:mod:`dsodetect.train.yolo`). See ``docs/yolo.md``.
"""

from .detector import YoloDetector, letterbox

__all__ = ["YoloDetector", "letterbox"]
