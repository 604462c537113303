"""Write detections: YOLO txt with confidence, JSON, annotated PNG, optional starless/masks."""

from .writers import (FORMATS, DetectionResult, read_yolo, render_annotated, write_json,
                      write_outputs, write_yolo)

__all__ = ["DetectionResult", "write_yolo", "read_yolo", "write_json", "render_annotated",
           "write_outputs", "FORMATS"]
