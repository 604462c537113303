"""Training data sets shared by the learned methods: a YOLO folder or zip laid out and split by source id."""

from __future__ import annotations

from pathlib import Path

__all__ = ["prepare_data", "pseudo_label", "add_training_folders"]


def prepare_data(source, dst, *, val_fraction: float = 0.1, seed: int = 0) -> Path:
    """Lay ``source`` out as an Ultralytics data set split by source id; return its ``data.yaml``.

    Parameters
    ----------
    source : path
        A YOLO folder (``images/`` + ``labels/``), a ``data.yaml`` (used as
        it is), or a DeepSpaceYoloDataset ``.zip``.
    dst : path
        Folder to write the split into (images are symlinked, not copied).
    val_fraction : float
        Share of the images, by whole source ids, held out for validation.
    seed : int
        Seed of the split.

    Returns
    -------
    Path
        The ``data.yaml`` to train on.

    Examples
    --------
    >>> prepare_data("real-train", "runs/data")  # doctest: +SKIP
    PosixPath('runs/data/data.yaml')
    """
    from ..dataset.deepspace import load_deepspace
    from ..dataset.split import write_split
    from ..dataset.yolo import find_samples

    source, dst = Path(source), Path(dst)
    if source.suffix in {".yaml", ".yml"}:
        return source
    if source.suffix == ".zip":
        load_deepspace(source, dst, fractions=(1 - val_fraction, val_fraction, 0.0), seed=seed)
        return _absolute_yaml(dst)
    samples = find_samples(source)
    if not samples:
        raise FileNotFoundError(f"{source}: no images found (expected images/ and labels/)")
    write_split(samples, dst, (1 - val_fraction, val_fraction, 0.0), seed=seed, link=True)
    return _absolute_yaml(dst)


def pseudo_label(images, dst, *, detector) -> int:
    """Label unlabelled images with a model: a YOLO folder ``dst`` (``images/`` linked, ``labels/``) to train on.

    Parameters
    ----------
    images : path
        A folder (or file) of images without labels.
    dst : path
        Output folder; images are symlinked, not copied (real data stays where it is).
    detector : Detector
        Labels with its own threshold (e.g. ``YoloDetector()``, the card's).

    Returns
    -------
    int
        Boxes written. An unreadable image is skipped with a warning.

    Examples
    --------
    >>> pseudo_label("real-unlabeled", "runs/pseudo", detector=YoloDetector())  # doctest: +SKIP
    """
    import warnings

    from ..dataset.yolo import write_labels
    from ..detection import DsodetectWarning
    from ..io import ImageReadError, iter_image_paths, read_image

    dst = Path(dst)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    n = 0
    for p in sorted(iter_image_paths([Path(images)])):
        try:
            img = read_image(p)
        except ImageReadError as exc:
            warnings.warn(f"{p}: skipped ({exc})", DsodetectWarning, stacklevel=2)
            continue
        boxes = detector.detect(img).detections
        link = dst / "images" / p.name
        link.unlink(missing_ok=True)
        link.symlink_to(p.resolve())
        write_labels(dst / "labels" / f"{p.stem}.txt", boxes, img.shape[1], img.shape[0])
        n += len(boxes)
    return n


def add_training_folders(data_yaml, folders) -> Path:
    """Add YOLO folders (``images/`` + ``labels/``) to the *training* split of ``data_yaml`` only; return it.

    For extra data such as :func:`pseudo_label` output: it is trained on but
    never validated on, so thresholds are still chosen on held-out real tiles.
    """
    import yaml

    path = Path(data_yaml)
    cfg = yaml.safe_load(path.read_text())
    train = cfg["train"] if isinstance(cfg["train"], list) else [cfg["train"]]
    for folder in folders:
        images = Path(folder).resolve() / "images"
        if not images.is_dir() or not (images.parent / "labels").is_dir():
            raise FileNotFoundError(f"{folder}: expected images/ and labels/ (a YOLO folder)")
        train.append(str(images))
    cfg["train"] = train
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _absolute_yaml(root: Path) -> Path:
    """Ultralytics resolves a relative ``path`` against its own datasets folder: write it absolute."""
    import yaml

    path = root / "data.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["path"] = str(root.resolve())
    if not any((root / "images" / "test").glob("*")):
        cfg.pop("test", None)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def split_items(data_yaml, split: str = "val") -> list[tuple[Path, Path | None]]:
    """``(image, label file or None)`` of one split of a ``data.yaml``, sorted by name.

    What thresholds are picked on (``val``: held-out source ids of real-train; never real-dev).
    """
    import yaml

    from ..io import iter_image_paths

    cfg = yaml.safe_load(Path(data_yaml).read_text())
    root = Path(cfg.get("path", Path(data_yaml).parent))
    if split not in cfg:
        raise ValueError(f"{data_yaml}: no {split!r} split")
    out = []
    for p in sorted(iter_image_paths([root / cfg[split]])):
        lab = root / "labels" / Path(cfg[split]).name / f"{p.stem}.txt"
        out.append((p, lab if lab.is_file() else None))
    return out


def memoize_heatmap(detector) -> dict:
    """Make ``detector.heatmap`` compute each image's heatmap once, so a tuning grid can re-box it at every point.

    The key is the image's file, window and scale within it (the shared tiling), and shape; an image read from no
    file is keyed by its pixels. Returns the memo (``clear()`` it to free memory between images).
    """
    import hashlib

    import numpy as np

    raw, memo = detector.heatmap, {}

    def heatmap(image):
        source = image.path if image.path is not None else hashlib.blake2b(
            np.ascontiguousarray(image.data).tobytes(), digest_size=16).hexdigest()
        key = (source, image.meta.get("window"), image.meta.get("scale"), image.shape)
        if key not in memo:
            memo[key] = raw(image)
        return memo[key]

    detector.heatmap = heatmap
    return memo


def score_split(detector, items, *, tiling: str = "auto") -> tuple[dict, dict]:
    """Run ``detector`` through the pipeline on ``items`` (see :func:`split_items`); ``(predictions, truth)``.

    Both are dicts by image stem, ready for :func:`dsodetect.evaluation.evaluate`.
    """
    from ..dataset.yolo import read_labels
    from ..io import read_image
    from ..pipeline import process

    pred, truth = {}, {}
    for p, lab in items:
        img = read_image(p)
        h, w = img.shape
        pred[p.stem] = process(img, detector, tiling=tiling).detections
        truth[p.stem] = read_labels(lab, w, h) if lab is not None else []
    return pred, truth


def train_val_samples(data):
    """``(train, val)`` samples of a split data set (a ``data.yaml`` or its folder); ``ValueError`` if one is empty."""
    from ..dataset.yolo import find_samples

    data = Path(data)
    samples = find_samples(data.parent if data.is_file() else data)
    train = [s for s in samples if s.split in (None, "train")]
    val = [s for s in samples if s.split == "val"]
    if not train or not val:
        raise ValueError(f"{data}: needs train and val splits (prepare_data splits a folder by source id)")
    return train, val
