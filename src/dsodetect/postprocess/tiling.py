"""Cut frames into overlapping tiles and bring tile detections back to the frame."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..detection import Detection

__all__ = ["Tile", "tile_grid", "tile_image", "untile"]


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
    """
    return [Tile(x, y, min(x + size, width), min(y + size, height))
            for y in _starts(height, size, overlap) for x in _starts(width, size, overlap)]


def tile_image(data: np.ndarray, size: int = 608, overlap: int = 64):
    """Yield ``(Tile, view)`` pairs over an ``(H, W[, C])`` array."""
    for t in tile_grid(data.shape[0], data.shape[1], size, overlap):
        yield t, data[t.slices]


def untile(detections: list[Detection], tile: Tile) -> list[Detection]:
    """Shift detections found in ``tile`` into frame coordinates."""
    return [replace(d, x0=d.x0 + tile.x0, x1=d.x1 + tile.x0, y0=d.y0 + tile.y0, y1=d.y1 + tile.y0)
            for d in detections]
