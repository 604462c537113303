"""``dsodetect train classical|yolo``: fit a method's model and install it with its card."""

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


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def _need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        _err(f"error: training needs {module}: pip install 'dsodetect[train]'")
        raise typer.Exit(2)


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
    data: Annotated[Path, typer.Option(help="YOLO folder (images/ + labels/), a data.yaml, or the "
                                       "DeepSpaceYoloDataset zip.")],
    preset: Annotated[str, typer.Option(help="Recipe: default (320 px, 60 epochs) | paper (608 px, batch 4, "
                                        "200 epochs) | tiny (a smoke test).")] = "default",
    model: Annotated[Optional[str], typer.Option(help="Architecture (yolo11n, yolo11s, ...).")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="Checkpoint to fine-tune from (transfer learning).")] = None,
    imgsz: Annotated[Optional[int], typer.Option(help="Network input size, px.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs.")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Batch size.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run's last checkpoint.")] = False,
    bf16: Annotated[Optional[bool], typer.Option("--bf16/--fp32", help="CPU bfloat16 autocast (AMX) "
                                                 "+ channels-last; default on for the CPU.")] = None,
    runs: Annotated[Path, typer.Option(help="Folder for runs and checkpoints.")] = Path("runs"),
    name: Annotated[str, typer.Option(help="Run name (a sub-folder of --runs).")] = "yolo",
    device: Annotated[str, typer.Option(help="cpu, or a CUDA device index such as 0.")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    val_fraction: Annotated[float, typer.Option(help="Share of source ids held out for validation.")] = 0.1,
    out: Annotated[Optional[Path], typer.Option(help="Model folder to install the ONNX model into "
                                                "(default: the user model folder).")] = None,
    model_name: Annotated[str, typer.Option(help="Registry name of the installed model.")] = "yolo11n-dso",
):
    """Train YOLO from scratch (or fine-tune), offline; export ONNX; install it for '--method yolo'."""
    _need("torch")
    _need("ultralytics")
    from .yolo import PRESETS, export_onnx, pick_threshold, plot_learning_curve, prepare_data, train_yolo, yolo_card

    if preset not in PRESETS:
        _err(f"error: unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        raise typer.Exit(2)
    recipe = PRESETS[preset].with_(model=model, imgsz=imgsz, epochs=epochs, batch=batch, bf16=bf16)
    try:
        yaml_path = data if resume else prepare_data(data, runs / f"{name}-data", val_fraction=val_fraction,
                                                     seed=seed)
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

    val = pick_threshold(onnx, yaml_path) if not resume else pick_threshold(onnx, _run_data(run))
    typer.echo(f"validation (held-out source ids): best-F1 threshold {val['threshold']}: "
               f"P {val['P']:.3f} R {val['R']:.3f} F1 {val['F1']:.3f} on {val['images']} images")
    card = yolo_card(model_name, onnx.name, recipe, run, data=str(data), val=val,
                     wall_time=f"{wall / 60:.1f} min on {_machine() if device == 'cpu' else 'GPU ' + device}")
    dst = install_model(onnx, card, out)
    typer.echo(json.dumps({"best": str(best), "onnx": str(onnx), "installed": str(dst)}, indent=1))


def _run_data(run: Path) -> Path:
    """The data.yaml a run was trained on (from its args.yaml)."""
    import yaml

    return Path(yaml.safe_load((run / "args.yaml").read_text())["data"])


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
