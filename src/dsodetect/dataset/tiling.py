"""Cut large frames and their labels into overlapping tiles (a data set of tiles).

Stitching detections back is tiled inference: :mod:`dsodetect.postprocess.tiling`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..detection import Detection
from ..postprocess import Tile, tile_grid

__all__ = ["labels_in_tile", "tile_frame", "tile_dataset"]


def labels_in_tile(detections, tile: Tile, min_visible: float = 0.4, min_fill: float = 0.25,
                   min_size: float = 8.0) -> list[Detection]:
    """Boxes of a frame as seen in one tile (tile coordinates), clipped to it.

    A clipped box is kept when at least ``min_visible`` of its area lies in the
    tile, or when what is left still fills ``min_fill`` of the tile (a big
    nebula cut by the tile edges is still the tile's object); slivers thinner
    than ``min_size`` px are dropped either way.
    """
    tw, th = tile.x1 - tile.x0, tile.y1 - tile.y0
    out = []
    for d in detections:
        x0, y0 = max(d.x0, tile.x0), max(d.y0, tile.y0)
        x1, y1 = min(d.x1, tile.x1), min(d.y1, tile.y1)
        if x1 <= x0 or y1 <= y0:
            continue
        inter = (x1 - x0) * (y1 - y0)
        frac = inter / max(d.area, 1e-9)
        if min(x1 - x0, y1 - y0) < min_size:
            continue
        if frac >= min_visible or inter >= min_fill * tw * th:
            extras = dict(d.extras, visible_fraction=round(float(frac), 4))
            out.append(replace(d, x0=x0 - tile.x0, y0=y0 - tile.y0, x1=x1 - tile.x0, y1=y1 - tile.y0,
                               extras=extras))
    return out


def tile_frame(data: np.ndarray, detections=(), size: int = 608, overlap: int = 64, **keep):
    """Split an ``(H, W[, C])`` array and its boxes into ``(Tile, tile_array, tile_boxes)`` triples.

    Uses :func:`dsodetect.postprocess.tile_grid` (last tiles flush with the
    edges, never padded); ``keep`` goes to :func:`labels_in_tile`.
    """
    out = []
    for t in tile_grid(data.shape[0], data.shape[1], size, overlap):
        out.append((t, data[t.slices], labels_in_tile(detections, t, **keep)))
    return out


def tile_dataset(src, dst, size: int = 608, overlap: int = 64, *, quality: int = 95, on_error=None,
                 **keep) -> dict:
    """Tile every image of a YOLO data set into ``dst/images`` + ``dst/labels``.

    Tiles are named ``<stem>_x<x0>_y<y0>`` so that their source stays known
    (splits group them by it). Unreadable images are reported through
    ``on_error(path, message)`` and skipped. Returns counts.
    """
    import cv2

    from .yolo import find_samples, load_samples, write_labels

    dst = Path(dst)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    counts = {"images": 0, "tiles": 0, "boxes": 0, "failed": 0}
    def failed(path, message):
        counts["failed"] += 1
        if on_error:
            on_error(path, message)

    for s, rgb, dets in load_samples(find_samples(src), failed):
        counts["images"] += 1
        for t, arr, boxes in tile_frame(rgb, dets, size, overlap, **keep):
            name = f"{s.stem}_x{t.x0}_y{t.y0}"
            bgr = arr[:, :, ::-1] if arr.ndim == 3 else arr
            cv2.imwrite(str(dst / "images" / f"{name}.jpg"), np.ascontiguousarray(bgr),
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
            write_labels(dst / "labels" / f"{name}.txt", boxes, arr.shape[1], arr.shape[0])
            counts["tiles"] += 1
            counts["boxes"] += len(boxes)
    return counts
