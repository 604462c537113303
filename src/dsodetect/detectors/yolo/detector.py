"""ONNX Runtime inference of an exported Ultralytics YOLO detection model."""

from __future__ import annotations

import os
import time

import cv2
import numpy as np

from ...detection import Detection, DetectionResult, MethodOption

__all__ = ["YoloDetector", "letterbox", "decode"]

MODEL_NAME = "yolo11n-dso"


def letterbox(rgb: np.ndarray, size: int, *, pad_value: float = 114 / 255) -> tuple[np.ndarray, float, tuple]:
    """Resize ``rgb`` (H, W, 3 in [0, 1]) to fit ``size`` x ``size``, centred on a grey border (Ultralytics' letterbox).

    Returns
    -------
    out : ndarray
        ``(size, size, 3)`` float32.
    ratio : float
        Network pixels per image pixel.
    pad : (float, float)
        Left and top border, network pixels. An image box is
        ``(net_box - pad) / ratio``.
    """
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    if (nw, nh) != (w, h):
        # Ultralytics loads validation images with INTER_AREA when shrinking.
        rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    out = np.full((size, size, 3), pad_value, np.float32)
    out[top:top + nh, left:left + nw] = rgb
    return out, r, (left, top)


def decode(output: np.ndarray, ratio: float, pad, *, conf: float, iou: float, shape) -> list[Detection]:
    """Boxes of a ``(1, 4 + nc, N)`` YOLO output in image pixels, after a score cut and NMS."""
    from ...postprocess import nms

    pred = output[0].T  # (N, 4 + nc)
    scores = pred[:, 4:].max(axis=1)
    keep = scores >= conf
    pred, scores = pred[keep], scores[keep]
    if not len(pred):
        return []
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    left, top = pad
    x0 = (cx - bw / 2 - left) / ratio
    y0 = (cy - bh / 2 - top) / ratio
    x1 = (cx + bw / 2 - left) / ratio
    y1 = (cy + bh / 2 - top) / ratio
    h, w = shape
    dets = [Detection(float(a), float(b), float(c), float(d), score=float(s))
            for a, b, c, d, s in zip(np.clip(x0, 0, w), np.clip(y0, 0, h), np.clip(x1, 0, w),
                                     np.clip(y1, 0, h), scores) if c > a and d > b]
    return nms(dets, iou)


class YoloDetector:
    """YOLO through ONNX Runtime.

    Parameters
    ----------
    model : str or path, optional
        A model name of :mod:`dsodetect.models` or an ``.onnx`` path; default
        ``yolo11n-dso``.
    conf : float, optional
        Score threshold; default the model card's (the best-F1 threshold on
        the validation source ids of real-train).
    iou : float
        NMS IoU threshold.
    threads : int, optional
        ONNX Runtime intra-op threads (default: all cores). By default the
        windows of a tiled frame run one per core instead, each with one
        thread: a 320 px network call does not split well across threads
        (a 3096x2080 frame's windows: 0.74 s this way against 1.06 s one
        window at a time with two threads, on 2 cores). Given, the windows
        run one at a time with that many threads.

    Examples
    --------
    >>> YoloDetector().detect(read_image("tile.jpg")).detections  # doctest: +SKIP
    """

    name = "yolo"
    #: Trained on 640 px app tiles: larger frames are tiled at that size, windows overlapping by half;
    #: boxes of different windows overlapping by IoU 0.3 are one object (on mosaics of held-out
    #: real-train tiles: F1 0.554 against 0.535 at IoU 0.5 and 0.483 with a quarter overlap).
    tile_size = 640
    tiling = {"overlap": 0.5, "iou_threshold": 0.3}
    options = (
        MethodOption("model", str, MODEL_NAME, "Model name (dsodetect models) or .onnx path."),
        MethodOption("conf", float, None, "Score threshold (default: the model card's)."),
        MethodOption("iou", float, 0.5, "NMS IoU threshold."),
    )

    def __init__(self, model: str = MODEL_NAME, conf: float | None = None, iou: float = 0.5,
                 threads: int | None = None):
        from ...models import load_card, model_path, onnx_input, onnx_session

        self.card = load_card(model)
        self.path = model_path(model)
        self.session = onnx_session(self.path, threads=threads)
        self.tiling = dict(type(self).tiling, workers=(os.cpu_count() or 1) if threads is None else 1)
        self._window_session = None if self.tiling["workers"] > 1 else self.session
        self.input_name, size = onnx_input(self.session)
        self.imgsz = size or int(self.card.extra.get("imgsz", 640))
        #: The shared tiling shrinks each window straight to the network's input (a 640 px window of a frame is
        #: seen at 320 px either way; shrunk once, not twice).
        self.input_size = self.imgsz
        self.conf = float(conf if conf is not None else self.card.extra.get("min_score", 0.25))
        self.iou = float(iou)

    def network_input(self, image) -> tuple[np.ndarray, float, tuple]:
        """The network's input for ``image``: ``(1, 3, imgsz, imgsz)`` float32, and the letterbox's ratio and pad.

        What :meth:`detect` feeds the model; also the calibration data of an
        int8 copy and the input of the speed benchmark.
        """
        x, r, pad = letterbox(np.asarray(image.display_rgb(), np.float32), self.imgsz)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), r, pad

    def detect(self, image, *, conf: float | None = None) -> DetectionResult:
        """Boxes of one image (any size; one pass, letterboxed to the network input)."""
        t0 = time.perf_counter()
        x, r, pad = self.network_input(image)
        session = self.session
        if "window" in image.meta:  # a window of a tiled frame, beside the others: one thread each
            if self._window_session is None:  # the tiling runs the first window alone: made once
                from ...models import onnx_session

                self._window_session = onnx_session(self.path, threads=1)
            session = self._window_session
        out = session.run(None, {self.input_name: x})[0]
        dets = decode(out, r, pad, conf=self.conf if conf is None else conf, iou=self.iou, shape=image.shape)
        for d in dets:
            d.method = self.name
        return DetectionResult(image, self.name, dets, seconds=time.perf_counter() - t0)
