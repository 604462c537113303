"""Tiled inference: run any detector over a frame larger than its input, in overlapping tiles.

A method made for tiles of ``tile_size`` px (the 640 px app tiles it was
trained on) sees a 3096x2080 frame as a pyramid of overlapping windows:
``tile_size`` windows at full resolution, then windows twice, four times...
as large, each shrunk to ``tile_size``, up to one window holding the whole
frame. An object is boxed at the first level where a window holds it whole;
boxes cut by a window's inner edge are dropped (another window, or the next
level, sees the whole object). What remains is merged once, with the shared
non-maximum suppression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..detection import Detection, DetectionResult, Product, as_result

__all__ = ["Tile", "tile_grid", "untile", "stitch_image", "detect_tiled", "needs_tiling"]


@dataclass(frozen=True)
class Tile:
    """A window ``[y0:y1, x0:x1]`` of a frame."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _starts(length: int, size: int, overlap: int) -> list[int]:
    if length <= size:
        return [0]
    step = max(1, size - overlap)
    starts = list(range(0, length - size + 1, step))
    if starts[-1] != length - size:
        starts.append(length - size)  # last tile flush with the edge, never padded
    return starts


def tile_grid(height: int, width: int, size: int = 608, overlap: int = 64) -> list[Tile]:
    """Tiles of ``size`` px covering the frame with at least ``overlap`` px overlap.

    Images smaller than ``size`` give a single tile of the whole image.

    Examples
    --------
    >>> [(t.x0, t.x1) for t in tile_grid(100, 1000, size=400, overlap=100)]
    [(0, 400), (300, 700), (600, 1000)]
    """
    return [Tile(x, y, min(x + size, width), min(y + size, height))
            for y in _starts(height, size, overlap) for x in _starts(width, size, overlap)]


def untile(detections: list[Detection], tile: Tile, scale: float = 1.0) -> list[Detection]:
    """Bring detections found in ``tile`` (shrunk by ``scale``) into frame coordinates."""
    return [replace(d, x0=d.x0 * scale + tile.x0, x1=d.x1 * scale + tile.x0,
                    y0=d.y0 * scale + tile.y0, y1=d.y1 * scale + tile.y0) for d in detections]


def stitch_image(tiles, height: int, width: int, *, how: str = "mean") -> np.ndarray:
    """Reassemble tile arrays (``[(Tile, array), ...]``) into the frame.

    ``how`` combines overlaps: ``mean`` (images), ``max`` (heatmaps, masks).
    Arrays smaller than their tile (a method's working resolution) are resized
    to it.
    """
    import cv2

    first = tiles[0][1]
    acc = np.zeros((height, width) + first.shape[2:], np.float32)
    cnt = np.zeros((height, width), np.float32)
    for t, a in tiles:
        th, tw = t.y1 - t.y0, t.x1 - t.x0
        a = np.asarray(a, dtype=np.float32)
        if a.shape[:2] != (th, tw):
            a = cv2.resize(a, (tw, th), interpolation=cv2.INTER_LINEAR)
        if how == "max":
            np.maximum(acc[t.slices], a, out=acc[t.slices])
        else:
            acc[t.slices] += a
            cnt[t.slices] += 1
    if how == "max":
        out = acc
    else:
        cnt = np.maximum(cnt, 1)
        out = acc / (cnt if acc.ndim == 2 else cnt[..., None])
    if first.dtype == bool:
        return out > 0.5
    return out.astype(first.dtype) if np.issubdtype(first.dtype, np.floating) else np.round(out).astype(first.dtype)


def needs_tiling(shape, tile_size: int | None, *, slack: float = 1.5) -> bool:
    """True when a frame of ``shape`` is worth tiling for a method made for ``tile_size`` px.

    Frames up to ``slack`` times the tile are processed in one pass (the
    method resizes them), larger ones tile.
    """
    return tile_size is not None and max(shape[:2]) > slack * tile_size


def _window(image, tile: Tile, scale: float, data: np.ndarray):
    """The ``tile`` of ``image`` shrunk by ``scale``, as an Image of display pixels."""
    import cv2

    from ..io import Image

    sub = data[tile.slices]
    mask = image.mask[tile.slices]
    if scale != 1.0:
        size = (max(1, round((tile.x1 - tile.x0) / scale)), max(1, round((tile.y1 - tile.y0) / scale)))
        sub = cv2.resize(sub, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    return Image(np.ascontiguousarray(sub, dtype=np.float32), mask=mask, path=image.path, stretched=True,
                 meta=dict(image.meta, window=(tile.x0, tile.y0, tile.x1, tile.y1), scale=scale), stem=image.stem)


def _cut(d: Detection, tile: Tile, shape, margin: float) -> bool:
    """True when ``d`` (frame coordinates) touches an edge of ``tile`` that is not the frame's."""
    h, w = shape
    return ((tile.x0 > 0 and d.x0 <= tile.x0 + margin) or (tile.y0 > 0 and d.y0 <= tile.y0 + margin)
            or (tile.x1 < w and d.x1 >= tile.x1 - margin) or (tile.y1 < h and d.y1 >= tile.y1 - margin))


def detect_tiled(detector, image, *, tile_size: int | None = None, overlap: float = 0.5,
                 levels: int | None = None, first_level: int = 0, edge_margin: float = 0.02,
                 iou_threshold: float = 0.5, containment: float | None = None, product_max_side: int = 2048,
                 workers: int = 1) -> DetectionResult:
    """Run ``detector`` over ``image`` in a pyramid of overlapping windows and merge the boxes.

    Parameters
    ----------
    detector : Detector
        Any method; it sees each window as an :class:`~dsodetect.io.Image` of
        ``tile_size`` px (display-stretched pixels of the whole frame, so every
        window shares one stretch), or of ``detector.input_size`` px when it
        has one that is smaller (a network with a fixed input: the window is
        shrunk once, to what the network looks at, not twice).
    image : Image
        The frame.
    tile_size : int, optional
        Window size at full resolution; default ``detector.tile_size``.
    overlap : float
        Overlap of neighbouring windows, as a fraction of the window. With
        0.5 every object up to half a window across lies whole in a window.
    levels : int, optional
        Pyramid levels (window sizes ``tile_size * 2**k``); default: up to the
        level whose window holds the whole frame.
    first_level : int
        Start the pyramid at windows ``2**first_level`` tiles large (a method
        too slow for many full-resolution windows).
    edge_margin : float
        A box within this fraction of the window of an inner window edge is
        cut, and dropped at that level.
    iou_threshold : float
        IoU above which boxes of different windows are the same object (NMS).
    containment : float, optional
        Also drop a box when more than this share of it lies inside a
        better-scoring box (a part of an object boxed again by a finer window).
    product_max_side : int
        Products (heatmaps, masks...) are stitched at most this large.
    workers : int
        Windows detected in parallel threads (for a method whose work releases
        the GIL and that does not use every core itself; the first window runs
        alone, so lazy model loading happens once).

    Returns
    -------
    DetectionResult
        Boxes in frame pixels, best first; products stitched over the frame
        (heatmaps and masks by maximum, images by mean) from the finest level.

    Examples
    --------
    >>> result = detect_tiled(get_detector("yolo"), read_image("stellina.fits"))  # doctest: +SKIP
    """
    import time

    from .boxes import nms

    t0 = time.perf_counter()
    tile_size = int(tile_size or getattr(detector, "tile_size", None) or 640)
    # Each window goes to the detector shrunk by this much more than its level's factor.
    extra = max(1.0, tile_size / (getattr(detector, "input_size", None) or tile_size))
    h, w = image.shape
    data = image.display()
    if levels is None:
        levels = max(1, math.ceil(math.log2(max(h, w) / tile_size)) + 1)
    jobs = []  # (level, window, shrink factor, windows at this level, edge margin in px)
    for level in range(first_level, max(levels, first_level + 1)):
        scale = 2.0 ** level
        size = int(round(tile_size * scale))
        last = level == levels - 1 or size >= max(h, w)
        if last and max(h, w) > size:
            size, scale = max(h, w), max(h, w) / tile_size
        grid = tile_grid(h, w, size, int(round(size * overlap)))
        jobs += [(level, tile, scale * extra, len(grid), edge_margin * size) for tile in grid]
        if last:
            break

    def run(job):
        sub = _window(image, job[1], job[2], data)
        return as_result(detector.detect(sub), sub, detector.name)

    results = [run(jobs[0])]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            results += list(pool.map(run, jobs[1:]))
    else:
        results += [run(j) for j in jobs[1:]]
    kept: list[Detection] = []
    windows = []   # finest level: (Tile, result) for the products
    for (level, tile, scale, n, margin), res in zip(jobs, results):
        for d in untile(res.detections, tile, scale):
            if n == 1 or not _cut(d, tile, (h, w), margin):
                kept.append(d)
        if level == first_level:
            windows.append((tile, res))
    detections = nms(kept, iou_threshold) if kept else []
    if containment is not None and len(detections) > 1:
        detections = _drop_contained(detections, containment)
    products = _stitch_products(windows, h, w, product_max_side)
    return DetectionResult(image, detector.name, detections, products=products,
                           seconds=time.perf_counter() - t0)


def _drop_contained(detections: list[Detection], threshold: float) -> list[Detection]:
    """Drop boxes lying more than ``threshold`` inside a better-scoring kept box (input best first)."""
    from ..detection import boxes_array
    from .boxes import _overlap

    b = boxes_array(detections)
    inter, area, _ = _overlap(b, b)
    inside = inter / np.maximum(area[:, None], 1e-9)  # share of box i inside box j
    keep: list[int] = []
    for i in range(len(detections)):
        if not any(inside[i, j] > threshold for j in keep):
            keep.append(i)
    return [detections[i] for i in keep]


def _stitch_products(windows, h: int, w: int, max_side: int) -> dict:
    """Frame-wide products from per-window products, at most ``max_side`` px on the long side."""
    if not windows:
        return {}
    f = min(1.0, max_side / max(h, w))
    out = {}
    for key, first in windows[0][1].products.items():
        parts = []
        for tile, res in windows:
            p = res.products.get(key)
            if p is not None:
                small = Tile(int(tile.x0 * f), int(tile.y0 * f), max(int(tile.x0 * f) + 1, int(tile.x1 * f)),
                             max(int(tile.y0 * f) + 1, int(tile.y1 * f)))
                parts.append((small, p.data))
        how = "mean" if first.kind == "image" else "max"
        out[key] = Product(stitch_image(parts, max(1, int(h * f)), max(1, int(w * f)), how=how), first.kind,
                           first.description)
    return out
