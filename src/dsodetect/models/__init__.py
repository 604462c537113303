"""Model files and their cards: one registry for every method's weights.

A model is a file (ONNX network, LightGBM text model...) and a card beside it,
``<name>.card.json``, that says what it is, what it was trained on (and that
data's licence), how to retrain it, its scores, and the file's sha256. Models
are found by name, in this order:

1. a path given directly (``--option model=/path/to/file.onnx``);
2. ``$DSODETECT_MODELS`` (a folder, or several separated by ``os.pathsep``);
3. the user model folder, ``~/.local/share/dsodetect/models`` (or
   ``$XDG_DATA_HOME/dsodetect/models``), where ``dsodetect train`` installs;
4. the models shipped in the package.

Examples
--------
>>> card = load_card("classical-scorer")
>>> card.method
'classical'
>>> model_path("classical-scorer").name
'classical-scorer.json.gz'
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["onnx_session", "onnx_input", "ModelCard", "ModelNotFound", "ModelChecksumError", "find_model", "load_card",
           "model_path", "list_models", "install_model", "file_sha256", "model_dirs", "user_model_dir", "DATA_LICENCE"]

PACKAGE_DIR = Path(__file__).resolve().parent

#: The licence every model trained on DeepSpaceYoloDataset inherits.
DATA_LICENCE = ("CC BY-NC-ND 4.0 (DeepSpaceYoloDataset, O. Parisot, LIST): trained models inherit it -- "
                "non-commercial use, attribution, no redistribution of modified versions")


class ModelNotFound(FileNotFoundError):
    """No model of that name (or path) in any model folder."""


class ModelChecksumError(ValueError):
    """A model file does not match the sha256 its card records (damaged or replaced)."""


@dataclass(frozen=True)
class ModelCard:
    """What a model is, what it was trained on, how to retrain it, how well it does.

    Attributes
    ----------
    name : str
        Registry name (``classical-scorer``, ``yolo11n-dso``...).
    method : str
        The detection method that uses it.
    file : str
        File name, beside the card.
    sha256 : str
        Checksum of the file, checked when the model is loaded.
    summary : str
        One line: what it is.
    data : str
        What it was trained on.
    data_licence : str
        The training data's licence, which the model inherits.
    training : str
        The command that (re)trains it.
    recipe : dict
        Settings of the training run.
    scores : dict
        Measured figures (with the command that produced them).
    wall_time : str
        Training wall time and machine.
    created : str
        Date.
    extra : dict
        Anything a method needs to run the model (input size, threshold...).
    """

    name: str
    method: str
    file: str
    sha256: str
    summary: str
    data: str = ""
    data_licence: str = DATA_LICENCE
    training: str = ""
    recipe: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    wall_time: str = ""
    created: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def read(cls, path) -> "ModelCard":
        d = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def model_dirs() -> list[Path]:
    """The folders searched for models, first match wins."""
    dirs = [Path(p) for p in os.environ.get("DSODETECT_MODELS", "").split(os.pathsep) if p]
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs.append(Path(xdg) / "dsodetect" / "models")
    dirs.append(PACKAGE_DIR)
    return dirs


def user_model_dir() -> Path:
    """Where ``dsodetect train`` installs: the first ``$DSODETECT_MODELS`` folder, else the user model folder."""
    return model_dirs()[0]


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def find_model(name) -> Path:
    """The card path of model ``name`` (or a model file's own path, for a direct path).

    Raises
    ------
    ModelNotFound
        Naming the folders searched and how to get the model.
    """
    p = Path(name)
    if p.suffix and p.is_file():
        return p
    for d in model_dirs():
        card = d / f"{name}.card.json"
        if card.is_file():
            return card
    raise ModelNotFound(f"no model {str(name)!r} in {', '.join(map(str, model_dirs()))}; "
                        f"'dsodetect models' lists the installed ones, 'dsodetect train' makes one")


def load_card(name) -> ModelCard:
    """The :class:`ModelCard` of model ``name`` (a bare file given by path gets a minimal card)."""
    found = find_model(name)
    if found.name.endswith(".card.json"):
        return ModelCard.read(found)
    sidecar = found.with_name(found.name.split(".")[0] + ".card.json")
    if sidecar.is_file():
        return ModelCard.read(sidecar)
    return ModelCard(name=found.stem, method="", file=found.name, sha256="", summary=f"user file {found}")


def model_path(name, *, verify: bool = True) -> Path:
    """The model file of ``name``, its sha256 checked against the card.

    Raises
    ------
    ModelNotFound
    ModelChecksumError
    """
    found = find_model(name)
    if not found.name.endswith(".card.json"):
        return found
    card = ModelCard.read(found)
    path = found.with_name(card.file)
    if not path.is_file():
        raise ModelNotFound(f"{found}: its model file {card.file} is missing")
    if verify and card.sha256:
        got = file_sha256(path)
        if got != card.sha256:
            raise ModelChecksumError(f"{path}: sha256 {got[:12]}... does not match its card "
                                     f"({card.sha256[:12]}...); the file is damaged or was replaced")
    return path


def list_models() -> list[tuple[ModelCard, Path]]:
    """Every installed model (first of each name in search order) with its card's folder."""
    seen, out = set(), []
    for d in model_dirs():
        for card in sorted(d.glob("*.card.json")) if d.is_dir() else []:
            try:
                c = ModelCard.read(card)
            except (OSError, ValueError, TypeError):
                continue
            if c.name not in seen:
                seen.add(c.name)
                out.append((c, d))
    return out


def install_model(file, card: ModelCard, dst=None) -> Path:
    """Copy ``file`` and write its card (sha256 filled in) into ``dst`` (default: the user model folder).

    Returns the card's path.
    """
    import shutil
    from dataclasses import replace

    dst = Path(dst) if dst is not None else user_model_dir()
    dst.mkdir(parents=True, exist_ok=True)
    target = dst / card.file
    if Path(file).resolve() != target.resolve():
        shutil.copyfile(file, target)
    card = replace(card, sha256=file_sha256(target))
    path = dst / f"{card.name}.card.json"
    path.write_text(card.to_json())
    return path


def onnx_input(session) -> tuple[str, int | None]:
    """Name and square side (None when dynamic: the card says) of an ONNX session's image input."""
    inp = session.get_inputs()[0]
    return inp.name, (int(inp.shape[-1]) if isinstance(inp.shape[-1], int) else None)


def onnx_session(path, *, threads: int | None = None):
    """An ONNX Runtime CPU session of a model file, with ``threads`` intra-op threads (default: all cores).

    The one place the learned methods open their ONNX models.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or os.cpu_count() or 1
    so.log_severity_level = 3  # ONNX Runtime's warnings about unused initializers are not the user's business
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
