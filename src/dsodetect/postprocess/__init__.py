"""Shared post-processing: IoU, NMS, box merging, clipping, size filters, tiled inference."""

from .boxes import box_ios, box_iou, clip_detections, filter_min_size, merge_overlapping, nms
from .heatmap import heatmap_boxes, patch_heatmap, top_fraction_heatmap
from .tiling import Tile, detect_tiled, needs_tiling, stitch_image, tile_grid, untile

__all__ = ["box_iou", "box_ios", "nms", "merge_overlapping", "clip_detections", "filter_min_size",
           "Tile", "tile_grid", "untile", "stitch_image", "detect_tiled", "needs_tiling",
           "heatmap_boxes", "top_fraction_heatmap", "patch_heatmap"]
