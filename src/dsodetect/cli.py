"""The ``dsodetect`` command line.

The ``detect`` and ``evaluate`` contracts are stable: other tools parse their
outputs (see README). Subsystems add their own commands through a
``register(app)`` function in ``dsodetect.<subsystem>.commands``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from ._options import FlattenOpt

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
    "dsodetect.live.commands", "dsodetect.web.commands", "dsodetect.train.commands",
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


def _method_help() -> str:
    from .detectors import available_methods

    return " | ".join(available_methods())


@app.command()
def detect(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (FITS, JPEG, PNG, TIFF).")],
    method: Annotated[str, typer.Option("--method", "-m", help="Detection method: " + _method_help()
                                        + " (see 'dsodetect methods').")] = "yolo",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("results"),
    format: Annotated[str, typer.Option("--format", "-f",
                                        help="Comma-separated outputs: yolo (txt), json, png.")] = "yolo,json,png",
    min_score: Annotated[Optional[float], typer.Option(help="Drop detections scoring below this "
                                                       "(the method's own threshold applies in any case).")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-O", help="A method option NAME=VALUE "
                                                        "(repeatable; 'dsodetect methods' lists them).")] = None,
    star_remover: Annotated[Optional[str], typer.Option(help="Shortcut for --option star_remover=... "
                                                        "(classical: 'builtin' or 'starnet').")] = None,
    tiling: Annotated[str, typer.Option(help="auto (tile frames larger than the method's tiles) | on | off.")] = "auto",
    save_extras: Annotated[bool, typer.Option("--save-extras", help="Also write the method's products "
                                              "(heatmap, starless image, masks).")] = False,
    flatten: FlattenOpt = False,
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
    from .io import iter_image_paths
    from .pipeline import output_stems, run_batch

    formats = _parse_formats(format)
    if tiling not in ("auto", "on", "off"):
        raise typer.BadParameter("--tiling must be auto, on or off")
    options = list(option or []) + ([f"star_remover={star_remover}"] if star_remover else [])
    detector = load_detector(method, options)
    paths = list(iter_image_paths(inputs, recursive=recursive))
    if not paths:
        _err("error: no images found in " + ", ".join(map(str, inputs)))
        raise typer.Exit(2)
    for path, stem in output_stems(paths).items():
        _err(f"warning: {path}: another input has the same name; its outputs are {stem}.*")
    identifier = make_identifier(solve_timeout) if identify else None

    def done(r):
        if identify and r.identification is not None and not r.identification.solution.ok:
            _err(f"warning: {r.image.path}: not identified: {r.identification.solution.message}")
        if not quiet:  # one line per file as it completes (also in logs and pipes)
            _err(f"{r.image.path}: {len(r.detections)} object(s) in {r.seconds:.2f} s")

    # A progress bar only for a person at a terminal; logs and pipes get clean lines.
    report = run_batch(paths, detector, out_dir=out, formats=formats, save_products=save_extras,
                       min_score=min_score, identifier=identifier, flatten=flatten,
                       tiling={"auto": "auto", "on": True, "off": False}[tiling],
                       on_error=lambda p, msg: _err(f"error: {msg}"), on_result=done,
                       progress=not quiet and sys.stderr.isatty())
    if not quiet:
        typer.echo(f"{len(report.results)} image(s) processed, {len(report.failures)} failed -> {out}/")
    raise typer.Exit(0 if report.ok else 1)


def load_detector(method: str, options=()):
    """Build a method from its name and ``NAME=VALUE`` option strings; exit 2 with one line when it cannot run."""
    from .detectors import MethodUnavailable, get_detector, parse_options

    try:
        return get_detector(method, **parse_options(method, options))
    except (MethodUnavailable, FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)


def make_identifier(timeout: float = 60.0):
    """The identification stage: ``f(image, detections) -> IdentifyReport`` (OpenNGC names)."""
    from functools import partial

    from .identify import identify

    return partial(identify, timeout=timeout)


@app.command()
def methods():
    """List the detection methods, whether they can run here, and their options."""
    from .detectors import METHODS, method_status

    for name in METHODS:
        ok, why, opts = method_status(name)
        typer.echo(f"{name}: {'available' if ok else 'unavailable: ' + why}")
        for o in opts:
            choices = f" [{'|'.join(map(str, o.choices))}]" if o.choices else ""
            typer.echo(f"    -O {o.name}=<{o.type.__name__}>{choices} (default {o.default}): {o.help}")


@app.command()
def models():
    """List the installed models (name, method, folder) and the first line of their cards."""
    from .models import list_models, model_dirs

    found = list_models()
    for card, folder in found:
        typer.echo(f"{card.name} ({card.method}) in {folder}\n    {card.summary}")
        if card.scores:
            typer.echo(f"    scores: {json.dumps(card.scores)[:200]}")
        typer.echo(f"    data licence: {card.data_licence.split(':')[0]}")
    if not found:
        typer.echo("no models installed; searched " + ", ".join(map(str, model_dirs())))


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
