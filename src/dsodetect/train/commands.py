"""``dsodetect train classical|yolo|classifier|pix2pix``: fit a method's model and install it with its card."""

from __future__ import annotations

import json
import logging
import platform
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register", "train_app"]

train_app = typer.Typer(help="Train a method's model and install it (with its card) where 'detect' finds it.",
                        no_args_is_help=True)


# Options shared by the training commands: one wording, one place.
DataOpt = Annotated[Path, typer.Option(help="YOLO folder (images/ + labels/), a data.yaml with train and val, or the "
                                       "DeepSpaceYoloDataset zip.")]
EpochsOpt = Annotated[Optional[int], typer.Option(help="Epochs.")]
BatchOpt = Annotated[Optional[int], typer.Option(help="Batch size.")]
Bf16Opt = Annotated[Optional[bool], typer.Option("--bf16/--fp32", help=(
    "CPU bfloat16 autocast + channels-last. Fast only where the CPU computes in bfloat16 natively (AMX, "
    "AVX512-BF16); emulated, and many times slower, elsewhere. Default: on where it is native and the network "
    "gains from it (YOLO, the ResNets)."))]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run's last checkpoint.")]
RunsOpt = Annotated[Path, typer.Option(help="Folder for runs and checkpoints.")]
NameOpt = Annotated[str, typer.Option(help="Run name (a sub-folder of --runs).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the split and of training.")]
ValFractionOpt = Annotated[float, typer.Option(help="Share of source ids held out for validation.")]
OutOpt = Annotated[Optional[Path], typer.Option(help="Model folder to install the ONNX model into "
                                                "(default: the user model folder).")]
ModelNameOpt = Annotated[str, typer.Option(help="Registry name of the installed model.")]


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def _recipe(presets: dict, preset: str, **changes):
    """The named preset with the options given on the command line; exit 2 with one line if the preset is
    unknown or the recipe refuses an option (e.g. an unknown loss)."""
    if preset not in presets:
        _err(f"error: unknown preset {preset!r}; choose from {', '.join(presets)}")
        raise typer.Exit(2)
    try:
        return presets[preset].with_(**changes)
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)


def _run_split(data: Path, runs: Path, name: str, *, resume: bool, val_fraction: float, seed: int,
               extra=()) -> Path:
    """The run's ``data.yaml``: split ``data`` by source id (``extra`` folders added to the training split) and
    keep a copy in the run folder, where ``--resume`` (which may follow an interrupted run) finds it."""
    from .data import add_training_folders, prepare_data

    run = runs / name
    if resume:
        return run / "data.yaml"
    yaml_path = prepare_data(data, runs / f"{name}-data", val_fraction=val_fraction, seed=seed)
    if extra:
        add_training_folders(yaml_path, extra)
    run.mkdir(parents=True, exist_ok=True)
    (run / "data.yaml").write_text(Path(yaml_path).read_text())
    return yaml_path


def _need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        _err(f"error: training needs {module}: pip install 'dsodetect[train]'")
        raise typer.Exit(2)


@train_app.command("pseudo-label")
def pseudo_label_cmd(
    src: Annotated[Path, typer.Argument(help="Folder of unlabelled images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output YOLO folder (images linked, labels written).")],
    method: Annotated[str, typer.Option("--method", "-m", help="Method that labels them.")] = "yolo",
    option: Annotated[Optional[list[str]], typer.Option("--option", "-O", help="A method option NAME=VALUE "
                                                        "(repeatable), e.g. conf=0.3.")] = None,
):
    """Label unlabelled images with a model (its own threshold): extra training data for 'train yolo --extra'.

    Look at the labels (and fix them) before training on them: a model's
    mistakes become training targets.
    """
    from ..detectors import get_detector, parse_options
    from .data import pseudo_label

    try:
        detector = get_detector(method, **parse_options(method, option or []))
        n = pseudo_label(src, out, detector=detector)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"{n} boxes -> {out}/labels (images linked in {out}/images)")


@train_app.command("classical")
def classical(
    data: Annotated[Path, typer.Option(help="YOLO folder (images/ + labels/), e.g. real-train.")],
    final: Annotated[bool, typer.Option("--final/--holdout", help="Fit on all images (threshold from 5-fold CV "
                                        "by source id), or fit on folds 1-4 and report fold 0.")] = True,
    jobs: Annotated[int, typer.Option(help="Processes for the cached expensive stage.")] = 2,
    seeds: Annotated[int, typer.Option(help="Models averaged per kind (the shipped scorer uses 5).")] = 5,
    out: Annotated[Optional[Path], typer.Option(help="Model folder to install into "
                                                "(default: the user model folder).")] = None,
):
    """Fit the classical method's candidate scorer (LightGBM) and install it as 'classical-scorer'."""
    import tempfile

    from ..detectors.classical import ClassicalParams
    from ..detectors.classical.scorer import MODEL_NAME, CandidateScorer
    from ..models import ModelCard, install_model
    from .classical import run_fit

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (data / "images").is_dir():
        _err(f"error: {data}: no images/ folder")
        raise typer.Exit(2)
    t0 = time.time()
    model = run_fit(data, ClassicalParams(), final=final, jobs=jobs, seeds=tuple(range(max(1, seeds))))
    wall = time.time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{MODEL_NAME}.json.gz"
        CandidateScorer.save(model, path)
        card = ModelCard(
            name=MODEL_NAME, method="classical", file=path.name, sha256="",
            summary="Candidate scorer of the classical method: LightGBM ranker + classifier (5 seeds each)",
            data=model.get("trained_on", str(data)),
            training=f"dsodetect train classical --data {data}" + ("" if final else " --holdout"),
            recipe={"seeds": model.get("seeds"), "min_score": model.get("min_score")},
            scores={"cv_5fold_by_source": model.get("cv", {})},
            wall_time=f"{wall / 60:.1f} min on {_machine()}", created=time.strftime("%Y-%m-%d"),
            extra={"min_score": model.get("min_score")})
        dst = install_model(path, card, out)
    typer.echo(f"installed {MODEL_NAME} -> {dst}")


@train_app.command("yolo")
def yolo(
    data: DataOpt,
    preset: Annotated[str, typer.Option(help="Recipe: default (320 px, 80 epochs) | paper (608 px, batch 4, "
                                        "200 epochs) | tiny (a smoke test).")] = "default",
    model: Annotated[Optional[str], typer.Option(help="Architecture (yolo11n, yolo11s, ...).")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="Checkpoint to fine-tune from (transfer learning).")] = None,
    extra: Annotated[Optional[list[Path]], typer.Option(help="A YOLO folder added to the training split only, e.g. "
                                                        "'train pseudo-label' output (repeatable).")] = None,
    imgsz: Annotated[Optional[int], typer.Option(help="Network input size, px.")] = None,
    epochs: EpochsOpt = None,
    lr0: Annotated[Optional[float], typer.Option(help="Initial learning rate.")] = None,
    batch: BatchOpt = None,
    resume: ResumeOpt = False,
    bf16: Bf16Opt = None,
    runs: RunsOpt = Path("runs"),
    name: NameOpt = "yolo",
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")] = "cpu",
    seed: SeedOpt = 0,
    val_fraction: ValFractionOpt = 0.1,
    out: OutOpt = None,
    model_name: ModelNameOpt = "yolo11n-dso",
):
    """Train YOLO from scratch (or fine-tune), offline; export ONNX; install it for '--method yolo'."""
    _need("torch")
    _need("ultralytics")
    from .yolo import PRESETS, export_onnx, pick_threshold, plot_learning_curve, train_yolo, yolo_card

    recipe = _recipe(PRESETS, preset, model=model, imgsz=imgsz, epochs=epochs, lr0=lr0, batch=batch, bf16=bf16)
    try:
        yaml_path = _run_split(data, runs, name, resume=resume, val_fraction=val_fraction, seed=seed, extra=extra or ())
        t0 = time.time()
        best = train_yolo(yaml_path, out=runs, recipe=recipe, weights=weights, resume=resume, seed=seed,
                          device=device, name=name)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    wall = time.time() - t0
    run = runs.resolve() / name
    onnx = export_onnx(best, run / f"{model_name}.onnx", imgsz=recipe.imgsz)
    if (run / "results.csv").is_file():
        plot_learning_curve(run / "results.csv", run / "learning_curve.png")
    from ..models import install_model

    val = pick_threshold(onnx, yaml_path)
    typer.echo(f"validation (held-out source ids): best-F1 threshold {val['threshold']}: "
               f"P {val['P']:.3f} R {val['R']:.3f} F1 {val['F1']:.3f} on {val['images']} images")
    card = yolo_card(model_name, onnx.name, recipe, run, data=str(data), val=val,
                     wall_time=f"{wall / 60:.1f} min on {_machine() if device == 'cpu' else 'GPU ' + device}")
    dst = install_model(onnx, card, out)
    typer.echo(json.dumps({"best": str(best), "onnx": str(onnx), "installed": str(dst)}, indent=1))


@train_app.command("yolo-int8")
def yolo_int8(
    data: Annotated[Path, typer.Option(help="The data.yaml of the model's run (runs/<name>-data/data.yaml): "
                                       "calibration on its training split, the threshold on its validation split.")],
    model: Annotated[str, typer.Option(help="The float model (registry name or .onnx).")] = "yolo11n-dso",
    images: Annotated[int, typer.Option(help="Calibration images.")] = 100,
    model_name: Annotated[Optional[str], typer.Option(help="Registry name of the int8 model "
                                                      "(default: <model>-int8).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Model folder to install it into "
                                                "(default: the user model folder).")] = None,
):
    """Quantize a YOLO model to int8 (ONNX Runtime), pick its threshold on the held-out ids, install it.

    Use it with 'detect --method yolo -O model=<name>'. Needs onnx (the train extra), not torch.
    """
    import tempfile

    _need("onnx")
    from ..models import install_model, load_card, model_path
    from .yolo import int8_card, pick_threshold, quantize_int8

    try:
        source = load_card(model)
        if source.method not in ("yolo", ""):  # "": a bare .onnx without a card
            raise ValueError(f"{model} is a model of the {source.method} method, not a YOLO model")
        name = model_name or f"{source.name}-int8"
        with tempfile.TemporaryDirectory() as tmp:
            onnx = quantize_int8(model_path(model), Path(tmp) / f"{name}.onnx", data, images=images)
            val = pick_threshold(onnx, data)
            card = int8_card(source, name, onnx.name, val=val, calibration=f"{images} tiles of the training split")
            dst = install_model(onnx, card, out)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"validation (held-out source ids): best-F1 threshold {val['threshold']}: "
               f"P {val['P']:.3f} R {val['R']:.3f} F1 {val['F1']:.3f} on {val['images']} images")
    typer.echo(json.dumps({"installed": str(dst)}, indent=1))


@train_app.command("classifier")
def classifier(
    data: DataOpt,
    preset: Annotated[str, typer.Option(help="Recipe: default (MobileNetV3-small, 12 epochs) | paper (ResNet50, "
                                        "50 epochs, batch 16) | tiny (a smoke test).")] = "default",
    arch: Annotated[Optional[str], typer.Option(help="Architecture: mobilenet_v3_small, resnet18, resnet50, "
                                                "mobilenet_v2.")] = None,
    epochs: EpochsOpt = None,
    batch: BatchOpt = None,
    crops: Annotated[Optional[int], typer.Option(help="Random crops per image and epoch (before "
                                                 "balancing).")] = None,
    resume: ResumeOpt = False,
    bf16: Bf16Opt = None,
    runs: RunsOpt = Path("runs"),
    name: NameOpt = "classifier",
    seed: SeedOpt = 0,
    val_fraction: ValFractionOpt = 0.1,
    out: OutOpt = None,
    model_name: ModelNameOpt = "xai-classifier",
    tune: Annotated[bool, typer.Option("--tune/--no-tune", help="Choose the xai method's X %, presence and "
                                       "score thresholds on the validation tiles (runs XRAI: slow).")] = True,
):
    """Train the xai method's presence classifier on 224 px crops from scratch; export ONNX; install it."""
    _need("torch")
    _need("albumentations")
    from .classifier import PRESETS, classifier_card, export_classifier, train_classifier

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recipe = _recipe(PRESETS, preset, arch=arch, epochs=epochs, batch=batch, crops_per_image=crops, bf16=bf16)
    run = runs / name
    try:
        yaml_path = _run_split(data, runs, name, resume=resume, val_fraction=val_fraction, seed=seed)
        t0 = time.time()
        best = train_classifier(yaml_path, out=run, recipe=recipe, resume=resume, seed=seed,
                                on_error=lambda p, m: _err(f"{p}: {m}"))
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    wall = time.time() - t0
    onnx = export_classifier(best, run / f"{model_name}.onnx")
    from ..models import install_model

    extra, boxes = {}, None
    if tune:
        from .classifier import tune_xai

        found = tune_xai(onnx, yaml_path)
        typer.echo(f"xai on validation tiles: {json.dumps(found)}")
        extra = {k: found[k] for k in ("presence", "top", "close", "trim", "min_score", "steps", "baseline")}
        boxes = found
    card = classifier_card(model_name, onnx.name, best, data=str(data),
                           wall_time=f"{wall / 60:.1f} min on {_machine()}", extra=extra, val_boxes=boxes)
    dst = install_model(onnx, card, out)
    typer.echo(f"validation crops (held-out source ids): {json.dumps(card.scores['val_crops_source_ids'])}")
    typer.echo(json.dumps({"best": str(best), "onnx": str(onnx), "installed": str(dst)}, indent=1))


@train_app.command("pix2pix")
def pix2pix(
    data: DataOpt,
    teacher: Annotated[str, typer.Option(help="The xai method's classifier (model name or .onnx path) whose "
                                         "heatmaps the generator learns.")] = "xai-classifier",
    teacher_cache: Annotated[Optional[Path], typer.Option(help="Folder of cached teacher heatmaps (made or "
                                                          "extended here; default <runs>/<name>-teacher).")] = None,
    teacher_tiles: Annotated[Optional[int], typer.Option(help="Compute teacher heatmaps for this many train tiles "
                                                         "and the same share of the val tiles (seeded samples; "
                                                         "XRAI is slow); default all.")] = None,
    preset: Annotated[str, typer.Option(help="Recipe: default (ngf 16, batch 4, 30 epochs, bce) | paper (ngf 64, batch "
                                        "1, 100 epochs, lr 1e-4, l1) | tiny (a smoke test).")] = "default",
    epochs: EpochsOpt = None,
    ngf: Annotated[Optional[int], typer.Option(help="Generator base width (64: the paper's U-Net).")] = None,
    batch: BatchOpt = None,
    loss: Annotated[Optional[str], typer.Option(help="Reconstruction loss: l1 (Isola et al.) | bce (per-pixel "
                                                "cross-entropy, the heatmap as a soft target).")] = None,
    blur: Annotated[Optional[float], typer.Option(help="Gaussian sigma (pixels) applied to the teacher "
                                                  "heatmaps before training (0: none).")] = None,
    resume: ResumeOpt = False,
    bf16: Bf16Opt = None,
    runs: RunsOpt = Path("runs"),
    name: NameOpt = "pix2pix",
    seed: SeedOpt = 0,
    val_fraction: ValFractionOpt = 0.1,
    out: OutOpt = None,
    model_name: ModelNameOpt = "pix2pix-xai",
):
    """Train the pix2pix generator to reproduce the xai heatmap; export ONNX; install it for '--method pix2pix'."""
    _need("torch")
    _need("albumentations")
    from ..dataset.yolo import find_samples
    from ..io import file_stem
    from ..postprocess.heatmap import TRIMS
    from .pix2pix import (CLOSES, MANIFEST, PRESETS, export_generator, make_teacher_cache, pick_threshold,
                          pix2pix_card, train_pix2pix)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recipe = _recipe(PRESETS, preset, epochs=epochs, ngf=ngf, batch=batch, bf16=bf16, loss=loss, blur=blur)
    run = runs / name
    cache = teacher_cache or runs / f"{name}-teacher"
    on_error = lambda p, m: _err(m if str(p) in m else f"{p}: {m}")  # noqa: E731
    try:
        yaml_path = _run_split(data, runs, name, resume=resume, val_fraction=val_fraction, seed=seed)
        samples = find_samples(Path(yaml_path).parent)
        train_images = [s.image for s in samples if s.split != "val"]
        val_images = [s.image for s in samples if s.split == "val"]
        if teacher_tiles is not None and teacher_tiles < len(train_images):
            import numpy as np

            rng = np.random.default_rng(seed)
            share = teacher_tiles / len(train_images)
            n_val = min(len(val_images), max(8, round(share * len(val_images))))
            train_images = [train_images[i] for i in sorted(rng.choice(len(train_images), teacher_tiles, False))]
            val_images = [val_images[i] for i in sorted(rng.choice(len(val_images), n_val, False))]
        images = train_images + val_images
        missing = [p for p in images if not (cache / f"{file_stem(p)}.npy").is_file()]
        if missing:
            from ..detectors import MethodUnavailable, get_detector

            try:
                detector = get_detector("xai", model=teacher)
            except (MethodUnavailable, ImportError, AttributeError) as exc:
                _err(f"error: the teacher (the xai method) cannot run here: {exc}")
                raise typer.Exit(2)
            typer.echo(f"teacher heatmaps: {len(missing)} of {len(images)} tiles to compute into {cache}")
            make_teacher_cache(images, cache, detector=detector, on_error=on_error)
        manifest = json.loads((cache / MANIFEST).read_text()) if (cache / MANIFEST).is_file() else {}
        teacher_desc = manifest.get("teacher") or {"method": "xai", "model": teacher, "options": {}}
        t0 = time.time()
        best = train_pix2pix(yaml_path, cache, out=run, recipe=recipe, resume=resume, seed=seed, on_error=on_error)
    except (FileNotFoundError, ValueError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    wall = time.time() - t0
    onnx = export_generator(best, run / f"{model_name}.onnx")
    from ..models import install_model

    t_close = int(teacher_desc.get("options", {}).get("close") or 0)
    val = pick_threshold(onnx, yaml_path, teacher_cache=cache,
                         close=(t_close, *(c for c in CLOSES if c != t_close)), trim=TRIMS)
    typer.echo(f"validation (held-out source ids): heatmap threshold {val['threshold']}, closing {val['close']} px, "
               f"trim {val['trim']}: "
               f"P {val['P']:.3f} R {val['R']:.3f} F1 {val['F1']:.3f} on {val['images']} images; "
               f"fidelity to the teacher {json.dumps(val.get('fidelity', {}))}")
    teacher_s = manifest.get("seconds_per_image")
    card = pix2pix_card(model_name, onnx.name, best, data=str(data), teacher=teacher_desc, val=val,
                        wall_time=f"{wall / 60:.1f} min on {_machine()}"
                                  + (f" (teacher cache: {teacher_s:.2f} s per tile)" if teacher_s else ""))
    dst = install_model(onnx, card, out)
    typer.echo(json.dumps({"best": str(best), "onnx": str(onnx), "installed": str(dst)}, indent=1))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
