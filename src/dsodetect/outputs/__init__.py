"""Write detections: YOLO txt with confidence, JSON, annotated PNG, products (heatmaps, starless, masks)."""

from .writers import (FORMATS, DetectionResult, atomic_write, heatmap_overlay, read_yolo, render_annotated,
                      write_identify_json, write_json, write_outputs, write_image, write_yolo)

__all__ = ["DetectionResult", "write_yolo", "read_yolo", "write_json", "write_image", "render_annotated",
           "heatmap_overlay", "write_outputs", "write_identify_json", "atomic_write", "FORMATS"]
