"""Shared post-processing: IoU, NMS, box merging, clipping, size filters, tiling."""

from .boxes import (box_ios, box_iou, clip_detections, filter_min_size, merge_overlapping, nms)
from .tiling import Tile, tile_grid, tile_image, untile

__all__ = ["box_iou", "box_ios", "nms", "merge_overlapping", "clip_detections", "filter_min_size",
           "Tile", "tile_grid", "tile_image", "untile"]
