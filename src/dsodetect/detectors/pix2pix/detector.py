"""ONNX Runtime inference of the pix2pix generator: the heatmap of a tile or a frame, then boxes from it."""

from __future__ import annotations

import time

import numpy as np

from ...detection import DetectionResult, MethodOption, Product
from ...postprocess.heatmap import check_trim

__all__ = ["Pix2PixDetector", "MODEL_NAME", "DEFAULT_THRESHOLD"]

MODEL_NAME = "pix2pix-xai"
#: Heatmap threshold when the model has no card (a user .onnx file); a card's own is chosen on held-out tiles.
DEFAULT_THRESHOLD = 0.3


class Pix2PixDetector:
    """The pix2pix generator through ONNX Runtime: an estimate of the ``xai`` heatmap, and boxes from it.

    Parameters
    ----------
    model : str or path, optional
        A model name of :mod:`dsodetect.models` or an ``.onnx`` path (a file
        without a card runs with the defaults); default ``pix2pix-xai``.
    threshold : float, optional
        Lowest heatmap value of a region
        (:func:`~dsodetect.postprocess.heatmap_boxes`); default the model
        card's (the best-F1 threshold on the validation source ids).
    min_area : int
        Regions smaller than this (pixels) are dropped.
    close : int, optional
        Radius (px) of the closing that joins a region's fragments;
        default the model card's (its teacher's).
    trim : float, optional
        Share of a region's heat left out on each side of its box; default
        the model card's, else 0.
    conf : float, optional
        Lowest box score (the region's mean heat) kept; default the model
        card's, else 0.
    threads : int, optional
        ONNX Runtime intra-op threads (default: all cores).

    Examples
    --------
    >>> Pix2PixDetector().detect(read_image("tile.jpg")).products["heatmap"].data.shape  # doctest: +SKIP
    (640, 640)
    """

    name = "pix2pix"
    #: Any image in one pass, as the xai method: one heatmap from a grid of the generator's 256 px patches at the
    #: image's own resolution (as it was trained; a 640 px tile is 3 x 3 patches), boxes from its regions. The
    #: pipeline does not tile it: each patch of a frame runs once.
    tile_size = None
    options = (
        MethodOption("model", str, MODEL_NAME, "Model name (dsodetect models) or .onnx path."),
        MethodOption("threshold", float, None, "Heatmap threshold of a region (default: the model card's)."),
        MethodOption("min_area", int, 16, "Smallest region kept, in pixels."),
        MethodOption("close", int, None, "Radius (px) joining a region's fragments (default: the card's)."),
        MethodOption("trim", float, None, "Share of a region's heat left out of each side of its box (default: "
                     "the card's)."),
        MethodOption("conf", float, None, "Lowest box score kept (default: the card's)."),
    )

    def __init__(self, model: str = MODEL_NAME, threshold: float | None = None, min_area: int = 16,
                 close: int | None = None, trim: float | None = None, conf: float | None = None,
                 threads: int | None = None):
        from ...models import load_card, model_path, onnx_input, onnx_session

        self.card = load_card(model)
        self.session = onnx_session(model_path(model), threads=threads)
        self.input_name, size = onnx_input(self.session)
        self.size = size or int(self.card.extra.get("size", 256))
        self.threshold = float(threshold if threshold is not None
                               else self.card.extra.get("threshold", DEFAULT_THRESHOLD))
        self.min_area = int(min_area)
        self.close = int(close if close is not None else self.card.extra.get("close", 0))
        self.trim = check_trim(trim if trim is not None else self.card.extra.get("trim", 0.0))
        self.conf = float(conf if conf is not None else self.card.extra.get("min_score", 0.0))

    def generate(self, patches: np.ndarray) -> np.ndarray:
        """The generator on ``(N, size, size, 3)`` RGB patches in [0, 1]: heatmaps ``(N, size, size)``."""
        x = np.ascontiguousarray(np.asarray(patches, np.float32).transpose(0, 3, 1, 2))
        return np.clip(self.session.run(None, {self.input_name: x})[0][:, 0], 0.0, 1.0)

    def heatmap(self, image) -> np.ndarray:
        """The image's heatmap ``(H, W)`` float32 in [0, 1]: the generator's patches stitched by maximum."""
        from ...postprocess import patch_heatmap

        # A 640 px tile is a 3 x 3 grid of 256 px patches.
        rgb = np.asarray(image.display_rgb(), np.float32)
        return patch_heatmap(rgb, self.generate, patch=self.size, overlap=self.size // 4)

    def detect(self, image, *, threshold: float | None = None) -> DetectionResult:
        """Heatmap and boxes of a tile or a whole frame."""
        from ...postprocess import heatmap_boxes

        t0 = time.perf_counter()
        heat = self.heatmap(image)
        dets = heatmap_boxes(heat, threshold=self.threshold if threshold is None else threshold,
                             min_area=self.min_area, close=self.close, trim=self.trim, min_score=self.conf)
        for d in dets:
            d.method = self.name
        product = Product(heat, "heatmap", "pix2pix estimate of the xai heatmap (classifier probability x "
                                           "top XRAI attribution of each patch)")
        return DetectionResult(image, self.name, dets, products={"heatmap": product},
                               seconds=time.perf_counter() - t0)
