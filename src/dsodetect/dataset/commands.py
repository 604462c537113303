"""``dsodetect dataset ...``: validate, tile, split, crop and fetch YOLO data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

dataset_app = typer.Typer(help="YOLO data sets: validate, tile, split, classification crops, DeepSpaceYoloDataset.",
                          no_args_is_help=True)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _fractions(text: str):
    try:
        parts = [float(v) for v in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise typer.BadParameter(f"expected three comma-separated fractions like 0.8,0.1,0.1, got {text!r}")
    return tuple(parts)


@dataset_app.command("validate")
def validate_cmd(
    root: Annotated[Path, typer.Argument(help="Data set folder.")],
    max_problems: Annotated[int, typer.Option(help="Print at most this many problems.")] = 50,
    no_images: Annotated[bool, typer.Option("--no-images", help="Skip opening the images.")] = False,
):
    """Report problems: images without labels, malformed lines, boxes outside the image. Exit 1 if any."""
    from .yolo import validate_dataset

    rep = validate_dataset(root, check_images=not no_images)
    lines = rep.summary().splitlines()
    typer.echo(lines[0])
    for line in lines[1:max_problems + 1]:
        typer.echo(line)
    if len(lines) - 1 > max_problems:
        typer.echo(f"... and {len(lines) - 1 - max_problems} more")
    raise typer.Exit(0 if rep.ok else 1)


@dataset_app.command("tile")
def tile_cmd(
    src: Annotated[Path, typer.Argument(help="Data set of large frames.")],
    dst: Annotated[Path, typer.Argument(help="Output data set of tiles.")],
    size: Annotated[int, typer.Option(help="Tile size (px).")] = 608,
    overlap: Annotated[int, typer.Option(help="Overlap between tiles (px).")] = 64,
    min_visible: Annotated[float, typer.Option(help="Keep a cut box if this fraction of it is in the tile.")] = 0.4,
):
    """Cut frames into overlapping tiles, clipping boxes and dropping slivers."""
    from .tiling import tile_dataset

    try:
        c = tile_dataset(src, dst, size, overlap, min_visible=min_visible,
                         on_error=lambda p, m: _err(f"error: {m}"))
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"{c['images']} frames -> {c['tiles']} tiles, {c['boxes']} boxes ({c['failed']} failed) -> {dst}/")
    raise typer.Exit(0 if not c["failed"] else 1)


@dataset_app.command("split")
def split_cmd(
    sources: Annotated[list[Path], typer.Argument(help="Data set folder(s) to merge and split.")],
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="Output data set (images/<split>, labels/<split>, data.yaml).")],
    fractions: Annotated[str, typer.Option(help="train,val,test fractions.")] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 0,
    link: Annotated[bool, typer.Option("--link", help="Symlink files instead of copying.")] = False,
):
    """Split 80/10/10 by source image (copies of one field never straddle splits)."""
    from .split import write_split
    from .yolo import find_samples

    fr = _fractions(fractions)
    samples = []
    try:
        for s in sources:
            samples += find_samples(s)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    counts = write_split(samples, out, fr, seed, link=link)
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" -> {out}/data.yaml")


@dataset_app.command("crops")
def crops_cmd(
    src: Annotated[Path, typer.Argument(help="Data set folder.")],
    dst: Annotated[Path, typer.Argument(help="Output folder (<split>/{dso,empty}/*.jpg).")],
    size: Annotated[int, typer.Option(help="Crop size (px).")] = 224,
    per_image: Annotated[int, typer.Option(help="Crops drawn per image.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    unbalanced: Annotated[bool, typer.Option("--unbalanced", help="Keep all crops (no class balancing).")] = False,
):
    """Random crops labelled DSO / empty for the presence classifier, balanced per split."""
    from .crops import make_crop_dataset
    from .yolo import find_samples

    try:
        samples = find_samples(src)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    counts = make_crop_dataset(samples, dst, per_image, size, seed, balanced=not unbalanced,
                               on_error=lambda p, m: _err(f"error: {m}"))
    typer.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f" -> {dst}/")


@dataset_app.command("deepspace")
def deepspace_cmd(
    source: Annotated[str, typer.Argument(help="DeepSpaceYoloDataset zip, its URL, or 'zenodo' (needs internet).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output data set folder.")],
    checksum: Annotated[Optional[str], typer.Option(help="Expected checksum: md5:<hex> or sha256:<hex>.")] = None,
    fractions: Annotated[str, typer.Option(help="train,val,test fractions.")] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
):
    """Verify, unpack and split DeepSpaceYoloDataset (Zenodo 8387071) into a YOLO layout."""
    from .deepspace import load_deepspace

    try:
        res = load_deepspace(source, out, checksum=checksum, fractions=_fractions(fractions), seed=seed)
    except (FileNotFoundError, ValueError, OSError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"{res['checksum']} verified; " + ", ".join(f"{k}: {v}" for k, v in res["counts"].items())
               + f"; {len(res['problems'])} label problem(s) -> {out}/data.yaml")


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
