"""Wrap any detector so that its detections come out named (``dsodetect detect --identify``)."""

from __future__ import annotations

__all__ = ["IdentifyDetector"]


class IdentifyDetector:
    """A :class:`~dsodetect.detection.Detector` that runs ``inner`` then :func:`~dsodetect.identify.identify`.

    The names land in each ``Detection.extras`` before the pipeline writes its
    outputs, so the annotated PNG and the JSON carry them with no change to
    the pipeline. With ``out_dir`` the full report (solution, missing
    objects, plain-language lines) is also written to ``<stem>.identify.json``.
    ``on_message(text)`` receives one line per image that could not be
    identified (unsolved, astrometry.net missing); the batch goes on.

    Parameters
    ----------
    inner : Detector
    out_dir : path, optional
    **options
        Passed to :func:`~dsodetect.identify.identify` (``hint``, ``timeout``,
        ``exposure_s``, ``min_score``...).
    """

    def __init__(self, inner, out_dir=None, on_message=None, **options):
        self.inner = inner
        self.name = inner.name
        self.out_dir = out_dir
        self.on_message = on_message
        self.options = options
        self.last_report = None

    @property
    def last_products(self):
        return getattr(self.inner, "last_products", None)

    def detect(self, image):
        from pathlib import Path

        from . import write_identify_json
        from .match import identify

        detections = self.inner.detect(image)
        h, w = image.shape
        # Names refer to the boxes the pipeline will keep: clip them first.
        from ..postprocess import clip_detections

        detections = clip_detections(detections, w, h)
        report = identify(image, detections, **self.options)
        self.last_report = report
        if not report.solution.ok and self.on_message:
            where = image.path if image.path is not None else image.name
            self.on_message(f"{where}: not identified: {report.solution.message}")
        if self.out_dir is not None:
            out = Path(self.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            write_identify_json(report, out / f"{image.name}.identify.json")
        return report.detections
