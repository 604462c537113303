"""The paper's approach 3: a presence classifier on 224 px patches, XRAI on the positive ones, boxes from the heatmap.

A tile or a whole frame is cut into a grid of 224 px patches at its own
resolution (the paper's way for large images). The classifier (ONNX Runtime)
says which hold a deep-sky object; only those are explained by XRAI (Google
PAIR's ``saliency``, with the torch network rebuilt from the same ONNX file,
since XRAI needs gradients). The top X % of each patch's attribution, weighted
by its probability, is stitched into one heatmap of the image
(:func:`dsodetect.postprocess.patch_heatmap`), whose regions are the boxes
(:func:`dsodetect.postprocess.heatmap_boxes`).
"""

from __future__ import annotations

import logging
import os
import time

import cv2
import numpy as np

from ...detection import DetectionResult, MethodOption, Product
from ...postprocess.heatmap import check_trim

__all__ = ["XaiDetector", "BASELINES"]

MODEL_NAME = "xai-classifier"

#: Integrated-gradients baselines: ``sky`` is a flat patch at the patch's median (per channel), so only what
#: stands out of the sky background gets attribution; ``black`` is the paper's (the sky after a hard stretch);
#: ``both`` averages the two.
BASELINES = ("sky", "black", "both")

# Regions smaller than this (pixels) are noise, a hot pixel or a star core.
_MIN_AREA = 24
# Least overlap of the 224 px patches: a 640 px tile is a 3 x 3 grid.
_PATCH_OVERLAP = 16


class XaiDetector:
    """Presence classifier + XRAI attributions -> heatmap -> boxes.

    Parameters
    ----------
    model : str or path, optional
        Classifier name in :mod:`dsodetect.models` or an ``.onnx`` path.
    presence : float, optional
        Probability above which a patch is explained (and may hold boxes);
        default the model card's.
    top : float, optional
        Fraction of the patch's attribution kept (the paper's X %); default
        the model card's.
    conf : float, optional
        Lowest box score kept; default the model card's.
    close : int, optional
        Radius (px) of the closing that joins a region's fragments
        before boxing; default the model card's.
    trim : float, optional
        Share of a region's heat left out on each side of its box
        (:func:`~dsodetect.postprocess.heatmap_boxes`); default the model
        card's, else 0.
    steps : int
        Integrated-gradients steps per baseline.
    baseline : {'sky', 'black', 'both'}
        Integrated-gradients baseline (see :data:`BASELINES`).
    threads : int, optional
        Threads for ONNX Runtime and torch (default: all cores).
    workers : int, optional
        Positive patches explained at once, each by one thread with
        ``threads // workers`` torch threads (default: ``threads``). Much of
        XRAI is single-threaded NumPy and scikit-image (segments, region
        ranking), so two patches at once beat one patch with two torch
        threads: 0.38 against 0.48 s per patch on 2 cores.
    cache : dict, optional
        Memo of attributions by patch content, for tuning ``top`` and
        ``presence`` over the same images without recomputing XRAI.

    Examples
    --------
    >>> result = XaiDetector().detect(read_image("tile.jpg"))  # doctest: +SKIP
    >>> result.products["heatmap"].data.shape  # doctest: +SKIP
    (640, 640)
    """

    name = "xai"
    #: Any image in one pass: one heatmap from its grid of 224 px patches at the image's own resolution (a 640 px
    #: tile is 3 x 3 patches, a 3096x2080 frame 15 x 10), so the pipeline does not tile it. The shared window
    #: pyramid explained each patch of a frame two to three times over and scored worse on mosaics of held-out
    #: real-train tiles (docs/xai.md): its shrunk coarse windows light up whole and give frame-sized boxes.
    tile_size = None
    patch_size = 224
    options = (
        MethodOption("model", str, MODEL_NAME, "Classifier name (dsodetect models) or .onnx path."),
        MethodOption("presence", float, None, "Patch probability above which XRAI runs (default: the card's)."),
        MethodOption("top", float, None, "Fraction of the attribution kept, 0-1 (default: the card's)."),
        MethodOption("conf", float, None, "Lowest box score kept (default: the card's)."),
        MethodOption("close", int, None, "Radius (px) joining a region's fragments (default: the card's)."),
        MethodOption("trim", float, None, "Share of a region's heat left out of each side of its box (default: "
                     "the card's)."),
        MethodOption("steps", int, 16, "Integrated-gradients steps per baseline."),
        MethodOption("baseline", str, "sky", "Integrated-gradients baseline.", choices=BASELINES),
    )

    #: Options only the box stage reads: the heatmap (e.g. a pix2pix teacher cache) does not depend on them.
    box_options = ("conf", "close", "trim")

    def __init__(self, model: str = MODEL_NAME, presence: float | None = None, top: float | None = None,
                 conf: float | None = None, close: int | None = None, trim: float | None = None, steps: int = 16,
                 baseline: str = "sky", threads: int | None = None, workers: int | None = None,
                 cache: dict | None = None):
        from ...models import load_card, model_path, onnx_session

        if baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
        self.path = model_path(model)
        self.card = load_card(model)
        extra = self.card.extra
        self.arch = extra.get("arch")  # None (a bare .onnx): recognised from the file
        self.patch_size = int(extra.get("size", self.patch_size))
        self.presence = float(presence if presence is not None else extra.get("presence", 0.5))
        self.top = float(top if top is not None else extra.get("top", 0.1))
        self.conf = float(conf if conf is not None else extra.get("min_score", 0.0))
        self.close = int(close if close is not None else extra.get("close", 8))
        self.trim = check_trim(trim if trim is not None else extra.get("trim", 0.0))
        if not 0 < self.top <= 1:
            raise ValueError(f"top must be in (0, 1], got {self.top}")
        self.steps, self.baseline = int(steps), baseline
        self.threads = threads or os.cpu_count() or 1
        self.workers = max(1, min(int(workers or self.threads), self.threads))
        self.session = onnx_session(self.path, threads=self.threads)
        self._torch = None
        self.cache = cache

    # -- the two stages -------------------------------------------------------------------------------------
    def classify(self, patches: np.ndarray) -> np.ndarray:
        """Probabilities ``(N,)`` that each ``(N, size, size, 3)`` patch holds a deep-sky object (ONNX Runtime)."""
        x = np.ascontiguousarray(np.asarray(patches, np.float32).transpose(0, 3, 1, 2))
        return self.session.run(None, {"image": x})[0][:, 0]

    def network(self):
        """The torch network (logit output), rebuilt from the ONNX file on first use."""
        if self._torch is None:
            import torch

            from .network import load_torch

            torch.set_num_threads(self.threads)
            self._torch = load_torch(self.path, self.arch)
            # saliency logs two INFO lines per patch; a batch run at INFO level would drown in them.
            logging.getLogger("saliency").setLevel(logging.WARNING)
        return self._torch

    def attribution(self, patch: np.ndarray) -> np.ndarray:
        """XRAI attribution ``(size, size)`` of the classifier's "DSO" logit for one patch."""
        if self.cache is not None:
            import hashlib

            key = (hashlib.blake2b(patch.tobytes(), digest_size=16).hexdigest(), self.baseline, self.steps)
            if key not in self.cache:
                self.cache[key] = self._attribution(patch)
            return self.cache[key]
        return self._attribution(patch)

    def _attribution(self, patch: np.ndarray) -> np.ndarray:
        import saliency.core as saliency
        import torch

        net = self.network()

        def call_model(x_batch, call_model_args=None, expected_keys=None):
            # Gradients of the logit, not of the probability: the sigmoid saturates on clear patches.
            x = torch.from_numpy(np.ascontiguousarray(x_batch, np.float32)).permute(0, 3, 1, 2).requires_grad_(True)
            logit = net(x)[:, 0]
            grad = torch.autograd.grad(logit.sum(), x)[0]
            return {saliency.base.INPUT_OUTPUT_GRADIENTS: grad.permute(0, 2, 3, 1).detach().numpy()}

        sky = np.median(patch.reshape(-1, 3), axis=0) * np.ones_like(patch)
        base = {"sky": [sky], "black": [np.zeros_like(patch)], "both": [sky, np.zeros_like(patch)]}[self.baseline]
        params = saliency.XRAIParameters(steps=self.steps)
        return saliency.XRAI().GetMask(patch, call_model, baselines=base, batch_size=self.steps,
                                       segments=_segments(patch), extra_parameters=params).astype(np.float32)

    # -- the method ------------------------------------------------------------------------------------------
    def patch_heatmaps(self, patches: np.ndarray) -> np.ndarray:
        """Heatmaps ``(N, 224, 224)`` of patches: zero where the classifier says empty, else the weighted top X %."""
        from ...postprocess import top_fraction_heatmap

        probs = self.classify(patches)
        out = np.zeros(patches.shape[:3], np.float32)
        todo = np.flatnonzero(probs >= self.presence)
        if len(todo) > 1 and self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.network()  # built once, before the threads (and says so if torch is missing)
            import torch

            before = torch.get_num_threads()  # torch's setting is the process's: put it back (training may follow)
            torch.set_num_threads(max(1, self.threads // self.workers))
            try:
                with ThreadPoolExecutor(self.workers) as pool:
                    attributions = list(pool.map(self.attribution, patches[todo]))
            finally:
                torch.set_num_threads(before)
        else:
            attributions = [self.attribution(patches[i]) for i in todo]
        for i, a in zip(todo, attributions):
            out[i] = top_fraction_heatmap(a, top=self.top, weight=float(probs[i]))
        return out

    def heatmap(self, image) -> np.ndarray:
        """The image's heatmap ``(H, W)`` in [0, 1]: its 224 px patches' heatmaps stitched by maximum."""
        from ...postprocess import patch_heatmap

        rgb = np.asarray(image.display_rgb(), np.float32)
        # progress: minutes of XRAI on a full frame.
        return patch_heatmap(rgb, self.patch_heatmaps, patch=self.patch_size, overlap=_PATCH_OVERLAP, progress="xai")

    def detect(self, image) -> DetectionResult:
        """Heatmap and boxes of a tile or a whole frame."""
        from ...postprocess import heatmap_boxes

        t0 = time.perf_counter()
        heat = self.heatmap(image)
        dets = heatmap_boxes(heat, threshold=1e-6, min_area=_MIN_AREA, close=self.close, trim=self.trim,
                             min_score=self.conf)
        for d in dets:
            d.method = self.name
        products = {"heatmap": Product(heat, "heatmap", f"XRAI attribution (top {self.top:.0%} of each positive "
                                                        "224 px patch) times the patch's presence probability")}
        return DetectionResult(image, self.name, dets, products=products, seconds=time.perf_counter() - t0)

def _segments(patch: np.ndarray):
    """XRAI's own Felzenszwalb segments, dilated with OpenCV: the same masks, 3x faster.

    saliency dilates each of its ~140 masks with scikit-image (0.5 s of a
    0.7 s patch here); ``cv2.dilate`` with the same disk gives identical masks
    (checked in ``tests/test_xai.py``). None (XRAI segments itself) if the
    private helper of saliency 0.2 ever goes.
    """
    from saliency.core import xrai

    felzenszwalb = getattr(xrai, "_get_segments_felzenszwalb", None)
    if felzenszwalb is None:
        return None
    from skimage.morphology import disk

    kernel = disk(5).astype(np.uint8)  # saliency's dilation_rad=5
    return [cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in felzenszwalb(patch, dilation_rad=0)]
