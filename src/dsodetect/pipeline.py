"""Run a detector over images: read -> detect -> clip -> write, one file at a time.

Used by the command line and by the live mode, so that every method gets the
same error handling: a bad file costs one line and the batch goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .detection import Detector
from .io import ImageReadError, file_stem, read_image
from .outputs import DetectionResult, write_outputs
from .postprocess import clip_detections

__all__ = ["run_detector", "process_file", "run_batch", "output_stems", "BatchReport"]


@dataclass
class BatchReport:
    """What a batch did: results for the good files, one reason per bad file."""

    results: list[DetectionResult] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def run_detector(detector: Detector, image) -> DetectionResult:
    """Detect on one :class:`~dsodetect.io.Image`, clip to the frame, time it."""
    t0 = time.perf_counter()
    detections = detector.detect(image)
    seconds = time.perf_counter() - t0
    h, w = image.shape
    detections = clip_detections(detections, w, h)
    for d in detections:
        d.method = d.method or detector.name
    extras = getattr(detector, "last_products", None) or {}
    return DetectionResult(image=image, method=detector.name, detections=detections,
                           seconds=seconds, extras=dict(extras))


def process_file(path, detector: Detector, out_dir=None, formats=("yolo", "json", "png"),
                 extras: bool = False, stem: str | None = None) -> DetectionResult:
    """Read, detect and (if ``out_dir``) write one file. Raises ImageReadError.

    ``stem`` overrides the output file stem (default: the image's). It is set
    on the image before detection, so every file named after the image (also
    a wrapping detector's, such as ``<stem>.identify.json``) uses it.
    """
    image = read_image(path)
    if stem:
        image.stem = stem
    result = run_detector(detector, image)
    if out_dir is not None:
        write_outputs(result, out_dir, formats, extras=extras)
    return result


def run_batch(paths, detector: Detector, out_dir=None, formats=("yolo", "json", "png"),
              extras: bool = False, on_error=None, progress: bool = False) -> BatchReport:
    """Process many files; a file that cannot be read is reported and skipped.

    ``on_error(path, reason)`` is called for each failure (the CLI prints it).
    """
    report = BatchReport()
    paths = list(paths)
    stems = output_stems(paths)
    iterator = paths
    if progress and len(paths) > 1:
        from tqdm import tqdm
        iterator = tqdm(paths, unit="img", desc=detector.name, leave=False)
    for path in iterator:
        try:
            report.results.append(process_file(path, detector, out_dir, formats, extras,
                                               stem=stems.get(Path(path))))
        except ImageReadError as exc:
            report.failures.append((Path(path), exc.reason))
            if on_error:
                on_error(Path(path), str(exc))
        except MemoryError:
            reason = "out of memory while processing (image too large for this machine)"
            report.failures.append((Path(path), reason))
            if on_error:
                on_error(Path(path), f"{path}: {reason}")
    return report


def output_stems(paths) -> dict:
    """Output stems for files whose stems collide (``M42.fits`` beside ``M42.jpg``).

    The first keeps ``<stem>``; later ones get ``<stem>_<ext>`` so that no
    output overwrites another. Returns only the renamed paths.
    """
    seen, renamed = set(), {}
    for p in map(Path, paths):
        stem = file_stem(p)
        if stem in seen:
            ext = p.name[len(stem):].lstrip(".").replace(".", "_").lower() or "dup"
            new, i = f"{stem}_{ext}", 2
            while new in seen:
                new, i = f"{stem}_{ext}{i}", i + 1
            renamed[p] = new
            stem = new
        seen.add(stem)
    return renamed
