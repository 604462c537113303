"""``dsodetect identify``: plate-solve images and name what is in them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register", "identify_command"]


def identify_command(
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (FITS, JPEG, PNG, TIFF).")],
    method: Annotated[Optional[str], typer.Option("--method", "-m",
                                                  help="Detect with this method first (classical, yolo...).")] = None,
    detections: Annotated[Optional[Path], typer.Option(
        "--detections", "-d", help="Folder of <stem>.txt predictions (from 'dsodetect detect') to name.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("results"),
    format: Annotated[str, typer.Option("--format", "-f", help="Comma-separated: json, png.")] = "json,png",
    blind: Annotated[bool, typer.Option("--blind", help="Ignore header pointing/scale and frame size (blind solve).")] = False,
    no_header_wcs: Annotated[bool, typer.Option("--no-header-wcs", help="Re-solve even if the header has a WCS.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds astrometry.net may spend per image.")] = 60.0,
    exposure: Annotated[Optional[float], typer.Option(
        help="Total integration time in seconds, for which objects are expected (default: header, else 600).")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print errors.")] = False,
):
    """Plate-solve images (header WCS or offline astrometry.net) and name objects from OpenNGC.

    Without --method or --detections, lists the catalog objects expected in
    each field. Writes <out>/<stem>.identify.json and <stem>.identify.png.
    Exit status: 0 when every image was identified, 1 when some could not be
    read or solved, 2 on usage errors.
    """
    from ..io import ImageReadError, iter_image_paths, read_image
    from .solver import solve

    formats = {f.strip().lower() for f in format.split(",") if f.strip()}
    if not formats or formats - {"json", "png"}:
        raise typer.BadParameter("use json and/or png", param_hint="--format")
    if method and detections:
        typer.echo("error: give --method or --detections, not both", err=True)
        raise typer.Exit(2)
    detector = None
    if method:
        from ..detectors import MethodUnavailable, get_detector

        try:
            detector = get_detector(method)
        except (MethodUnavailable, FileNotFoundError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
    if detections is not None and not detections.is_dir():
        typer.echo(f"error: {detections}: not a folder of predictions", err=True)
        raise typer.Exit(2)
    paths = list(iter_image_paths(inputs, recursive=recursive))
    if not paths:
        typer.echo("error: no images found in " + ", ".join(map(str, inputs)), err=True)
        raise typer.Exit(2)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in paths:
        try:
            image = read_image(path)
        except ImageReadError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        try:
            dets = _detections_for(image, detector, detections)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        solution = solve(image, hint=not blind, timeout=timeout, use_header_wcs=not no_header_wcs)
        from .match import identify

        report = identify(image, dets, solution=solution, exposure_s=exposure)
        _write(report, image, out, formats)
        if not solution.ok:
            typer.echo(f"error: {path}: not identified: {solution.message}", err=True)
            failed += 1
            continue
        if not quiet:
            _print(report, image, path, listing=detector is None and detections is None)
    if not quiet:
        typer.echo(f"{len(paths) - failed} of {len(paths)} image(s) identified -> {out}/")
    raise typer.Exit(1 if failed else 0)


def _detections_for(image, detector, folder):
    if detector is not None:
        from ..pipeline import process

        return process(image, detector).detections
    if folder is not None:
        from ..outputs import read_yolo

        h, w = image.shape
        p = Path(folder) / f"{image.name}.txt"
        return read_yolo(p, w, h) if p.exists() else []
    return []


def _write(report, image, out: Path, formats) -> None:
    from ..outputs import write_identify_json

    if "json" in formats:
        write_identify_json(report, out / f"{image.name}.identify.json")
    if "png" in formats and report.solution.ok:
        from ..outputs import write_image
        from .render import render_identified

        write_image(out / f"{image.name}.identify.png", render_identified(image, report, max_side=2000))


def _print(report, image, path, listing: bool) -> None:
    from .describe import describe

    s = report.solution
    h, w = image.shape
    d = s.to_dict(w, h)
    how = "header WCS" if s.source == "header" else (
        f"astrometry.net ({s.hint}) in {s.seconds:.1f} s, residual {s.residual_arcsec:.2f}\""
        if s.residual_arcsec is not None else f"astrometry.net ({s.hint}) in {s.seconds:.1f} s")
    typer.echo(f"{path}: centre RA {d['ra']:.4f} Dec {d['dec']:+.4f}, {d['scale_arcsec']:.3f}\"/px, {how}")
    if listing:  # nothing was detected, so nothing is "missing": list what should show
        for obj in report.expected:
            typer.echo(f"  expected in field: {describe(obj)}")
        return
    for line in report.lines():
        typer.echo(f"  {line}")


def register(app: typer.Typer) -> None:
    """Add ``dsodetect identify`` to the command line."""
    app.command("identify")(identify_command)
