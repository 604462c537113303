"""Train / val / test splits by source image, so that no field leaks between splits."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

__all__ = ["source_id", "split_by_source", "write_split"]

_TILE = re.compile(r"_x\d+_y\d+$")       # tiles written by tile_dataset
_COPY = re.compile(r"^(\d+)_\d{1,2}$")   # real-train copies: <id>_<k>


def source_id(stem: str) -> str:
    """The source image a file comes from.

    ``1003_1`` -> ``1003`` (augmented copies of one tile), ``big_x608_y0`` ->
    ``big`` (tiles of one frame), anything else is its own source.
    """
    stem = _TILE.sub("", stem)
    m = _COPY.match(stem)
    return m.group(1) if m else stem


def split_by_source(names, fractions=(0.8, 0.1, 0.1), seed: int = 0, key=source_id) -> dict[str, list[str]]:
    """Assign names to ``train``/``val``/``test`` so that all names of one source share a split.

    Sources are shuffled (deterministically by ``seed``) and filled into the
    splits until each reaches its fraction of the *images*, so the sizes
    come out close to 80/10/10 even when sources have different numbers of
    copies.
    """
    fr = np.asarray(fractions, dtype=float)
    if fr.size != 3 or np.any(fr < 0) or fr.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers, got {fractions}")
    fr = fr / fr.sum()
    groups: dict[str, list[str]] = {}
    for n in sorted(names):
        groups.setdefault(key(n), []).append(n)
    order = sorted(groups)
    rng = np.random.default_rng(seed)
    order = [order[i] for i in rng.permutation(len(order))]
    total = sum(len(v) for v in groups.values())
    targets = fr * total
    out = {"train": [], "val": [], "test": []}
    names_ = ("train", "val", "test")
    filled = np.zeros(3)
    for src in order:
        # The split furthest below its share takes the next source.
        ratio = np.where(targets > 0, filled / np.maximum(targets, 1e-9), np.inf)
        i = int(np.argmin(ratio))
        out[names_[i]].extend(groups[src])
        filled[i] += len(groups[src])
    return out


def write_split(samples, dst, fractions=(0.8, 0.1, 0.1), seed: int = 0, link: bool = False) -> dict[str, int]:
    """Lay samples out as an Ultralytics data set: ``dst/images/<split>``, ``dst/labels/<split>``, data.yaml.

    ``samples`` are :class:`~dsodetect.dataset.yolo.Sample` (e.g. from
    ``find_samples``); with ``link``, files are symlinked instead of copied.
    Images without labels get an empty label file (negatives).
    """
    from .yolo import write_data_yaml

    dst = Path(dst)
    by_stem = {}
    for s in samples:
        by_stem.setdefault(s.image.stem, s)
    parts = split_by_source(list(by_stem), fractions, seed)
    counts = {}
    for split, stems in parts.items():
        (dst / "images" / split).mkdir(parents=True, exist_ok=True)
        (dst / "labels" / split).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            s = by_stem[stem]
            img_dst = dst / "images" / split / s.image.name
            lab_dst = dst / "labels" / split / f"{stem}.txt"
            _put(s.image, img_dst, link)
            if s.label is not None:
                _put(s.label, lab_dst, link)
            else:
                lab_dst.write_text("")
        counts[split] = len(stems)
    write_data_yaml(dst)
    return counts


def _put(src: Path, dst: Path, link: bool):
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if link:
        dst.symlink_to(Path(src).resolve())
    else:
        shutil.copy2(src, dst)
