"""The one pipeline every entry point runs: read -> detect -> clip and filter -> identify -> write.

``dsodetect detect``, ``watch``, ``compare`` and the Python API all call
:func:`process` (or :func:`run_batch` over files), so that every method gets
the same tiling of large frames, the same clipping and score threshold, the
same identification and the same error handling: a bad file costs one line
and the batch goes on.

Examples
--------
>>> from dsodetect import get_detector, read_image
>>> from dsodetect.pipeline import process
>>> result = process(read_image("M42.fits"), get_detector("classical"), out_dir="results")  # doctest: +SKIP
>>> [d.score for d in result.detections]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .detection import DetectionResult, Detector, as_result
from .io import ImageReadError, file_stem, read_image
from .outputs import FORMATS, write_outputs
from .postprocess import clip_detections, detect_tiled, needs_tiling

__all__ = ["detect", "process", "process_file", "run_batch", "output_stems", "BatchReport", "failure_reason"]

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What a batch did: results for the good files, one reason per bad file."""

    results: list[DetectionResult] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def detect(image, detector: Detector, *, tiling: str | bool = "auto") -> DetectionResult:
    """The detect stage: run ``detector`` on ``image``, tiled when the frame is larger than the method's tiles.

    Parameters
    ----------
    image : dsodetect.io.Image
    detector : Detector
    tiling : {'auto', True, False}
        ``auto`` tiles frames larger than ``1.5 * detector.tile_size``
        (:func:`~dsodetect.postprocess.needs_tiling`).

    Returns
    -------
    DetectionResult
        Unclipped, unfiltered boxes and the method's products, timed.
    """
    t0 = time.perf_counter()
    tile = getattr(detector, "tile_size", None)
    if tiling is True or (tiling == "auto" and needs_tiling(image.shape, tile)):
        result = detect_tiled(detector, image, **getattr(detector, "tiling", {}))
    else:
        result = as_result(detector.detect(image), image, detector.name)
    result.image = image
    result.seconds = time.perf_counter() - t0
    for d in result.detections:
        d.method = d.method or detector.name
    return result


def process(image, detector: Detector, *, min_score: float | None = None,
            identifier: Callable | None = None, tiling: str | bool = "auto", out_dir=None,
            formats=FORMATS, save_products: bool = False) -> DetectionResult:
    """Run every stage on one image: detect -> clip and filter -> identify -> write.

    Parameters
    ----------
    image : dsodetect.io.Image
    detector : Detector
    min_score : float, optional
        Drop boxes scoring below this (the method's own threshold applies in any case).
    identifier : callable, optional
        ``identifier(image, detections) -> report`` (e.g.
        :func:`dsodetect.identify.identify`); it names the detections in
        place and its report lands in ``result.identification``.
    tiling : {'auto', True, False}
        See :func:`detect`.
    out_dir : path, optional
        Write ``<stem>.txt/.json/.png`` (and ``<stem>.identify.json``) here.
    formats : sequence of str
        Output formats when ``out_dir`` is given.
    save_products : bool
        Also write the method's products (heatmaps, starless image, masks).

    Returns
    -------
    DetectionResult
    """
    result = detect(image, detector, tiling=tiling)
    h, w = image.shape
    dets = clip_detections(result.detections, w, h)
    if min_score is not None:
        dets = [d for d in dets if d.score >= min_score]
    result.detections = sorted(dets, key=lambda d: -d.score)
    if identifier is not None:
        result.identification = identifier(image, result.detections)
        result.detections = list(getattr(result.identification, "detections", result.detections))
    if out_dir is not None:
        write_outputs(result, out_dir, formats, extras=save_products)
    return result


def process_file(path, detector: Detector, *, stem: str | None = None, flatten: bool = False,
                 **options) -> DetectionResult:
    """Read one file and :func:`process` it. Raises :class:`~dsodetect.io.ImageReadError`.

    ``stem`` overrides the output file stem (default: the image's); every file
    named after the image uses it. ``flatten`` subtracts the sky's gradient
    from linear data before anything else sees it (:meth:`~dsodetect.io.Image.flattened`).
    """
    image = read_image(path)
    if flatten:
        image = image.flattened()
    if stem:
        image.stem = stem
    return process(image, detector, **options)


def failure_reason(exc: BaseException) -> str:
    """One line saying why a file failed."""
    if isinstance(exc, ImageReadError):
        return exc.reason
    if isinstance(exc, MemoryError):
        return "out of memory while processing (image too large for this machine)"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or exc}{where}"
    return f"internal error: {type(exc).__name__}: {exc}"


def run_batch(paths, detector: Detector, *, on_error: Callable | None = None,
              on_result: Callable | None = None, progress: bool = False, **options) -> BatchReport:
    """Process many files; a file that fails is reported and the rest go on.

    Parameters
    ----------
    paths : iterable of path
    detector : Detector
    on_error : callable, optional
        ``on_error(path, message)`` for each failure; ``message`` is one line
        naming the file and the reason.
    on_result : callable, optional
        ``on_result(result)`` as each file completes.
    progress : bool
        Show a progress bar (for a person at a terminal).
    **options
        Passed to :func:`process_file` (``flatten``) and :func:`process` (``out_dir``,
        ``formats``, ``min_score``, ``identifier``, ``save_products``, ``tiling``).

    Returns
    -------
    BatchReport
    """
    from .io.image import display_path

    report = BatchReport()
    paths = list(paths)
    stems = output_stems(paths)
    iterator = paths
    if progress and len(paths) > 1:
        from tqdm import tqdm
        iterator = tqdm(paths, unit="img", desc=detector.name, leave=False)
    for path in iterator:
        try:
            result = process_file(path, detector, stem=stems.get(Path(path)), **options)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad file never stops the batch
            reason = failure_reason(exc)
            if not isinstance(exc, (ImageReadError, MemoryError, OSError)):
                log.debug("unexpected failure on %s", path, exc_info=True)
            report.failures.append((Path(path), reason))
            if on_error:
                on_error(Path(path), f"{display_path(path)}: {reason}")
            continue
        report.results.append(result)
        if on_result:
            on_result(result)
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
