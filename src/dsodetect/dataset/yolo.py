"""YOLO-format data sets: label files, image/label pairing, data.yaml, validation.

Layouts understood (``root`` is the folder given by the user):

* flat: ``root/images/*.jpg`` + ``root/labels/*.txt`` (the real tiles here);
* Ultralytics: ``root/images/{train,val,test}/`` + ``root/labels/{train,val,test}/``
  with ``root/data.yaml``;
* Roboflow: ``root/{train,valid,test}/images`` + ``.../labels``.

A label file holds one ``class xc yc w h`` line per box, normalised to [0, 1].
Problems (boxes outside the image, malformed or empty lines, images without
labels, unreadable images) are collected as one-line messages, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..detection import Detection
from ..io import iter_image_paths

__all__ = ["Sample", "LabelFile", "parse_labels", "read_labels", "write_labels", "label_path_for", "load_samples",
           "find_samples", "read_data_yaml", "write_data_yaml", "ValidationReport", "validate_dataset",
           "CLASS_NAMES", "SPLITS"]

#: The single class of the data sets.
CLASS_NAMES = ["DSO"]
#: Split names, in order.
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_EPS = 1e-3  # tolerance of normalised coordinates (rounding in published labels)


@dataclass
class Sample:
    """One image of a data set and its label file (None when it has none)."""

    image: Path
    label: Path | None
    split: str | None = None

    @property
    def stem(self) -> str:
        return self.image.stem


@dataclass
class LabelFile:
    """Parsed label file: boxes in normalised ``(cls, xc, yc, w, h)`` and the problems found."""

    path: Path
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def detections(self, width: int = 1, height: int = 1) -> list[Detection]:
        return [Detection.from_normalized(xc, yc, w, h, width, height, score=1.0,
                                          label=CLASS_NAMES[c] if c < len(CLASS_NAMES) else str(c))
                for c, xc, yc, w, h in self.boxes]


def parse_labels(path, n_classes: int = 1, clip: bool = True) -> LabelFile:
    """Read a YOLO label file, collecting problems instead of raising (the data-set validator).

    Where :func:`dsodetect.io.yolo.read_label_file` (evaluation) rejects any
    value outside [0, 1], a data set's published boxes that stick slightly out
    of the image are worth keeping, clipped: this is that lenient policy, for
    ``dsodetect dataset validate`` and training data.

    Lines with 5 numbers are boxes; a 6th column (a confidence, as in
    prediction files) is accepted and ignored. Boxes that stick out of the
    image are clipped (and reported); boxes with no area left, unknown
    classes and malformed or blank lines are reported and skipped.
    """
    path = Path(path)
    out = LabelFile(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        out.problems.append(f"{path}: unreadable label file ({type(exc).__name__})")
        return out
    lines = text.splitlines()
    for i, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            if i < len(lines):  # a trailing newline is fine, a blank line inside is not
                out.problems.append(f"{path}:{i}: empty line")
            continue
        if len(parts) not in (5, 6):
            out.problems.append(f"{path}:{i}: expected 'class xc yc w h', got {line.strip()!r}")
            continue
        try:
            cls_f = float(parts[0])
            xc, yc, w, h = (float(v) for v in parts[1:5])
        except ValueError:
            out.problems.append(f"{path}:{i}: not numbers: {line.strip()!r}")
            continue
        if cls_f != int(cls_f) or not 0 <= cls_f < n_classes:
            out.problems.append(f"{path}:{i}: class {parts[0]} not in 0..{n_classes - 1}")
            continue
        x0, y0, x1, y1 = xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2
        if w <= 0 or h <= 0:
            out.problems.append(f"{path}:{i}: box has no area (w={w:g}, h={h:g})")
            continue
        if x0 < -_EPS or y0 < -_EPS or x1 > 1 + _EPS or y1 > 1 + _EPS:
            cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
            if cx1 <= cx0 or cy1 <= cy0:
                out.problems.append(f"{path}:{i}: box entirely outside the image")
                continue
            out.problems.append(f"{path}:{i}: box outside the image (clipped)")
            if clip:
                x0, y0, x1, y1 = cx0, cy0, cx1, cy1
        out.boxes.append((int(cls_f), (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0))
    return out


def read_labels(path, width: int = 1, height: int = 1) -> list[Detection]:
    """Boxes of a label file as pixel-space detections (bad lines skipped)."""
    return parse_labels(path).detections(width, height)


def write_labels(path, detections, width: int, height: int) -> Path:
    """Write ``0 xc yc w h`` lines (no confidence column): a data-set label file.

    Detections are clipped to the image first; an empty list writes an empty
    file (an image with no object is a valid negative). The one YOLO writer
    (:func:`dsodetect.io.yolo.write_yolo`) writes it, atomically.
    """
    from ..io.yolo import write_yolo
    from ..postprocess import clip_detections

    return write_yolo(clip_detections(detections, width, height), width, height, path, scores=False)


def label_path_for(image: Path) -> Path:
    """Ultralytics rule: the last ``images`` folder of the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    else:
        return image.with_suffix(".txt")
    return Path(*parts).with_suffix(".txt")


def read_data_yaml(path) -> dict:
    """Parse a data.yaml (``path``, ``train``, ``val``, ``test``, ``names``)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not a readable data.yaml ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: data.yaml is not a mapping")
    return data


def write_data_yaml(root, splits=SPLITS, names=CLASS_NAMES) -> Path:
    """Write ``root/data.yaml`` for the Ultralytics layout (relative paths, portable)."""
    import yaml

    root = Path(root)
    data = {"path": ".", "names": {i: n for i, n in enumerate(names)}, "nc": len(names)}
    for s in splits:
        data[s] = f"images/{s}"
    p = root / "data.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def find_samples(root) -> list[Sample]:
    """All images under ``root`` with their label files, in any of the known layouts.

    A ``data.yaml`` in ``root`` is followed when present. Images without a label
    file get ``label=None``. Raises ``FileNotFoundError`` when ``root`` holds no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data set folder")
    dirs: list[tuple[Path, str | None]] = []
    yml = root / "data.yaml"
    if yml.is_file():
        data = read_data_yaml(yml)
        base = Path(str(data.get("path", ".")))
        base = base if base.is_absolute() else root / base
        if not base.is_dir():
            base = root
        for key in ("train", "val", "test"):
            entries = data.get(key)
            for e in ([entries] if isinstance(entries, str) else entries or []):
                d = base / e if not Path(e).is_absolute() else Path(e)
                if not d.is_dir():
                    d = root / e
                if d.is_dir():
                    dirs.append((d, key))
    if not dirs:
        if (root / "images").is_dir():
            subs = [p for p in sorted((root / "images").iterdir()) if p.is_dir() and p.name in _SPLIT_ALIASES]
            dirs = [(p, _SPLIT_ALIASES[p.name]) for p in subs] or [(root / "images", None)]
        else:
            subs = [p for p in sorted(root.iterdir()) if p.is_dir() and p.name in _SPLIT_ALIASES
                    and (p / "images").is_dir()]
            dirs = [(p / "images", _SPLIT_ALIASES[p.name]) for p in subs] or [(root, None)]
    samples, seen = [], set()
    for d, split in dirs:
        for img in iter_image_paths([d], recursive=True):
            if img in seen:
                continue
            seen.add(img)
            lab = label_path_for(img)
            if not lab.is_file() and (img.with_suffix(".txt")).is_file():
                lab = img.with_suffix(".txt")  # labels beside the images
            samples.append(Sample(img, lab if lab.is_file() else None, split))
    if not samples:
        raise FileNotFoundError(f"{root}: no images found (expected images/ and labels/ folders)")
    return samples


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_dataset`."""

    root: Path
    n_images: int = 0
    n_labelled: int = 0
    n_boxes: int = 0
    n_empty: int = 0                  # label files with no box (negatives)
    splits: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        split = ", ".join(f"{k}: {v}" for k, v in self.splits.items())
        lines = [f"{self.root}: {self.n_images} images ({split}), {self.n_labelled} with labels, "
                 f"{self.n_boxes} boxes, {self.n_empty} empty label files, {len(self.problems)} problem(s)"]
        return "\n".join(lines + self.problems)


def validate_dataset(root, check_images: bool = True, n_classes: int = 1) -> ValidationReport:
    """Check a YOLO data set and list every problem found (never raises on bad content).

    Reports images without labels, label files without images, malformed
    or empty lines, boxes outside the image, and (with ``check_images``)
    images that cannot be opened.
    """
    root = Path(root)
    rep = ValidationReport(root)
    try:
        samples = find_samples(root)
    except (FileNotFoundError, ValueError) as exc:
        rep.problems.append(str(exc))
        return rep
    rep.n_images = len(samples)
    for s in samples:
        rep.splits[s.split or "all"] = rep.splits.get(s.split or "all", 0) + 1
        if s.label is None:
            rep.problems.append(f"{s.image}: image has no label file")
            continue
        rep.n_labelled += 1
        lf = parse_labels(s.label, n_classes)
        rep.problems.extend(lf.problems)
        rep.n_boxes += len(lf.boxes)
        rep.n_empty += not lf.boxes and not lf.problems
        if check_images:
            from PIL import Image as PILImage

            try:
                with PILImage.open(s.image) as im:
                    im.verify()
            except Exception as exc:
                rep.problems.append(f"{s.image}: unreadable image ({type(exc).__name__})")
    images = {s.label.resolve() for s in samples if s.label is not None}
    label_dirs = {s.label.parent for s in samples if s.label is not None}
    for d in sorted(label_dirs):
        for lab in sorted(d.glob("*.txt")):
            if lab.resolve() not in images and lab.name != "classes.txt":
                rep.problems.append(f"{lab}: label file without an image")
    return rep


def load_samples(samples, on_error=None):
    """Yield ``(sample, rgb_uint8, detections)`` for each readable sample.

    The image is display-stretched to 8 bits (what training crops and tiles
    hold); labels are in pixels. An unreadable image is reported through
    ``on_error(path, message)`` and skipped.
    """
    from ..io import ImageReadError, read_image, to_uint8

    for s in samples:
        try:
            img = read_image(s.image)
        except ImageReadError as exc:
            if on_error:
                on_error(s.image, str(exc))
            continue
        h, w = img.shape
        dets = parse_labels(s.label).detections(w, h) if s.label else []
        yield s, to_uint8(img.display()), dets
