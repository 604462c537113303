"""``dsodetect synth ...``: render synthetic smart-telescope stacks and data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

synth_app = typer.Typer(help="Render synthetic smart-telescope images with exact, visibility-based labels.",
                        no_args_is_help=True)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@synth_app.command("render")
def render_cmd(
    out: Annotated[Path, typer.Argument(help="Output stem: writes <out>.fits, <out>.jpg, <out>.txt.")],
    preset: Annotated[str, typer.Option(help="stellina | vespera | seestar")] = "vespera",
    seed: Annotated[int, typer.Option(help="Scene seed (deterministic).")] = 0,
    integration: Annotated[float, typer.Option("--integration", "-t",
                                               help="Total integration in seconds (N x 10 s).")] = 600.0,
    target: Annotated[Optional[str], typer.Option(help="Catalogue target (OpenNGC), e.g. M51, NGC7000.")] = None,
    size: Annotated[Optional[int], typer.Option(help="Square frame size in px (default: full sensor frame).")] = None,
    kind: Annotated[Optional[str], typer.Option(
        help="Main object of a random scene (galaxy, emission_nebula, ...).")] = None,
    ra: Annotated[Optional[float], typer.Option(help="Pointing RA (deg).")] = None,
    dec: Annotated[Optional[float], typer.Option(help="Pointing Dec (deg).")] = None,
    bortle: Annotated[Optional[int], typer.Option(help="Sky class 1..9.")] = None,
    moon: Annotated[Optional[float], typer.Option(help="Moon glow 0..1.")] = None,
    snr_threshold: Annotated[float, typer.Option(help="Label an object where it exceeds this x sky noise.")] = 3.0,
    annotate: Annotated[bool, typer.Option("--annotate", help="Also write <out>.png with the label boxes.")] = False,
):
    """Render one field (FITS linear stack + app JPEG + YOLO labels)."""
    from .render import write_sample

    try:
        res = write_sample(out, preset=preset, seed=seed, integration_s=integration, target=target, size=size,
                           kind=kind, ra=ra, dec=dec, bortle=bortle, moon=moon, snr_threshold=snr_threshold)
    except (ValueError, OSError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    scene = res["scene"]
    if annotate:
        from ..io import from_array
        from ..outputs.writers import render_annotated, write_image

        img = from_array(scene.jpeg.astype("float32") / 255.0, stretched=True)
        p = Path(str(res["jpeg"])[:-4] + ".png")
        write_image(p, render_annotated(img, scene.labels))
    kinds = ", ".join(d.extras.get("kind", "?") for d in scene.labels) or "none visible"
    typer.echo(f"{res['jpeg']}: {scene.params['preset']} {scene.params['integration_s']:g} s, "
               f"{len(scene.labels)} labelled object(s) ({kinds})")


@synth_app.command("dataset")
def dataset_cmd(
    out: Annotated[Path, typer.Argument(help="Output folder (images/, labels/, manifest.csv).")],
    n: Annotated[int, typer.Option("--n", "-n", help="Number of images.")] = 100,
    preset: Annotated[str, typer.Option(help="mix (Stellina/Vespera) | stellina | vespera | seestar")] = "mix",
    size: Annotated[int, typer.Option(help="Square tile size in px.")] = 640,
    seed: Annotated[int, typer.Option(help="Data set seed.")] = 0,
    min_integration: Annotated[float, typer.Option(help="Shortest stack (s).")] = 180.0,
    max_integration: Annotated[float, typer.Option(help="Longest stack (s).")] = 3600.0,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Parallel processes.")] = 1,
    fits: Annotated[bool, typer.Option("--fits", help="Also write the linear FITS stacks.")] = False,
):
    """Render a YOLO data set of random synthetic fields."""
    import time

    from .dataset import make_dataset

    if n < 1:
        _err("error: --n must be at least 1")
        raise typer.Exit(2)
    t0 = time.perf_counter()
    try:
        counts = make_dataset(out, n, size=size, seed=seed, preset=preset, min_integration=min_integration,
                              max_integration=max_integration, workers=workers, fits=fits)
    except (ValueError, OSError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    dt = time.perf_counter() - t0
    typer.echo(f"{counts['images']} images, {counts['boxes']} boxes ({counts['empty']} without a visible object) "
               f"in {dt:.1f} s ({counts['images'] / dt:.1f} images/s) -> {out}/")


@synth_app.command("presets")
def presets_cmd():
    """List the telescope presets."""
    from ..telescopes import PRESETS

    for p in PRESETS.values():
        typer.echo(f"{p.name:9s} {p.aperture_mm:.0f} mm f/{p.f_ratio:.0f} {p.sensor} {p.pixel_um} um "
                   f"{p.width}x{p.height}  {p.scale:.2f}\"/px")


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
