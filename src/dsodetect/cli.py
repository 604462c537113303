"""The ``dsodetect`` command line.

The ``detect`` and ``evaluate`` contracts are stable: other tools parse their
outputs (see README). Subsystems add their own commands through a
``register(app)`` function in ``dsodetect.<subsystem>.commands``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__

app = typer.Typer(
    name="dsodetect",
    help="Find deep-sky objects (galaxies, nebulae, star clusters) in smart-telescope images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Modules that add commands; each defines ``register(app)``.
COMMAND_MODULES: list[str] = [
    "dsodetect.synth.commands", "dsodetect.dataset.commands",
    "dsodetect.identify.commands",
    "dsodetect.live.commands", "dsodetect.web.commands",
]


def _err(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)  # keeps a running progress bar intact


def _version(value: bool):
    if value:
        typer.echo(f"dsodetect {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False):
    """Find deep-sky objects in smart-telescope images (FITS, JPEG, PNG, TIFF)."""


def _parse_formats(text: str) -> tuple[str, ...]:
    from .outputs import FORMATS

    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise typer.BadParameter(f"unknown format(s) {', '.join(bad) or '(none)'}; use any of {','.join(FORMATS)}")
    return formats


@app.command()
def detect(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (FITS, JPEG, PNG, TIFF).")],
    method: Annotated[str, typer.Option("--method", "-m", help="classical | yolo | xai | pix2pix")] = "classical",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("results"),
    format: Annotated[str, typer.Option("--format", "-f",
                                        help="Comma-separated outputs: yolo (txt), json, png.")] = "yolo,json,png",
    min_score: Annotated[float, typer.Option(help="Drop detections scoring below this.")] = 0.0,
    star_remover: Annotated[str, typer.Option(help="classical method: 'builtin' or 'starnet' (StarNet++ binary).")] = "builtin",
    save_extras: Annotated[bool, typer.Option("--save-extras", help="Also write starless image / masks where the method makes them.")] = False,
    identify: Annotated[bool, typer.Option("--identify", help="Name objects from OpenNGC (header WCS, else offline astrometry.net plate solving).")] = False,
    solve_timeout: Annotated[float, typer.Option(help="--identify: seconds allowed for one plate solve.")] = 60.0,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print errors.")] = False,
):
    """Detect deep-sky objects and write <out>/<stem>.txt, .json and .png per image.

    The .txt lines are '0 xc yc w h conf' (normalised YOLO with confidence).
    With --identify, objects are named from the OpenNGC catalog and
    <stem>.identify.json lists the expected objects that were not detected.
    Exit status is 0 when every file was processed, 1 when some failed,
    2 on usage errors.
    """
    from .detectors import MethodUnavailable, get_detector
    from .io import iter_image_paths
    from .pipeline import output_stems, run_batch

    formats = _parse_formats(format)
    options = {"star_remover": star_remover} if method == "classical" else {}
    try:
        detector = get_detector(method, **options)
    except (MethodUnavailable, FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    paths = list(iter_image_paths(inputs, recursive=recursive))
    if not paths:
        _err("error: no images found in " + ", ".join(map(str, inputs)))
        raise typer.Exit(2)
    for path, stem in output_stems(paths).items():
        _err(f"warning: {path}: another input has the same name; its outputs are {stem}.*")
    if min_score > 0:
        detector = _ScoreFilter(detector, min_score)
    if identify:
        from .identify import IdentifyDetector

        detector = IdentifyDetector(detector, out_dir=out, on_message=lambda m: _err(f"warning: {m}"),
                                    timeout=solve_timeout)
    # A progress bar only for a person at a terminal; logs and pipes get clean lines.
    report = run_batch(paths, detector, out, formats, extras=save_extras,
                       on_error=lambda p, msg: _err(f"error: {msg}"),
                       progress=not quiet and sys.stderr.isatty())
    if not quiet:
        for r in report.results:
            typer.echo(f"{r.image.path}: {len(r.detections)} object(s) in {r.seconds:.2f} s")
        typer.echo(f"{len(report.results)} image(s) processed, {len(report.failures)} failed -> {out}/")
    raise typer.Exit(0 if report.ok else 1)


class _ScoreFilter:
    def __init__(self, inner, min_score):
        self.inner, self.min_score, self.name = inner, min_score, inner.name

    def detect(self, image):
        return [d for d in self.inner.detect(image) if d.score >= self.min_score]

    @property
    def last_products(self):
        return getattr(self.inner, "last_products", None)


@app.command()
def evaluate(
    pred: Annotated[Path, typer.Option("--pred", help="Folder of predicted <stem>.txt (0 xc yc w h conf).")],
    truth: Annotated[Path, typer.Option("--truth", help="Folder of ground-truth YOLO labels (or a data set with labels/).")],
    iou: Annotated[float, typer.Option("--iou", help="IoU threshold for a match.")] = 0.5,
    min_score: Annotated[Optional[float], typer.Option(help="Score threshold for P/R/F1 (default: report at 0 and at the best-F1 threshold).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write report.json, per_image.csv and pr_curve.png here.")] = None,
):
    """Score predictions against YOLO ground truth: P/R/F1 at IoU, best-F1 threshold, mAP (pycocotools)."""
    from .evaluation import evaluate_folders, format_report

    try:
        report = evaluate_folders(pred, truth, iou=iou, min_score=min_score, out_dir=out)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(format_report(report))
    if out:
        typer.echo(f"report written to {out}/")


def _register_plugins() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_plugins()


def main() -> None:  # pragma: no cover - thin wrapper
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
