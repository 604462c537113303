"""Train the YOLO method: from scratch (or fine-tune a checkpoint) with Ultralytics, offline, then export ONNX.

Needs the ``train`` extra (torch, ultralytics: AGPL-3.0). Inference never
imports this module: the exported ONNX model runs on ONNX Runtime
(:mod:`dsodetect.detectors.yolo`).

The data set is a YOLO folder (``images/`` + ``labels/``), an Ultralytics
``data.yaml``, or the DeepSpaceYoloDataset zip; folders and zips are split by
source image (copies of one field never straddle train and val).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .checkpoints import resolve_bf16
from .data import prepare_data

__all__ = ["YoloRecipe", "PRESETS", "prepare_data", "train_yolo", "export_onnx", "plot_learning_curve",
           "pick_threshold", "yolo_card", "quantize_int8", "int8_card"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class YoloRecipe:
    """Everything that decides a YOLO training run (saved beside the weights)."""

    model: str = "yolo11n"
    imgsz: int = 320
    epochs: int = 80
    batch: int = 16
    optimizer: str = "AdamW"
    lr0: float = 0.002
    close_mosaic: int = 10
    mosaic: float = 1.0
    flipud: float = 0.5        # the sky has no up
    fliplr: float = 0.5
    degrees: float = 0.0       # the tiles already are rotated copies; rotation would inflate axis-aligned boxes
    scale: float = 0.5
    translate: float = 0.1
    hsv_v: float = 0.4
    patience: int = 0          # no early stop: the schedule runs to its end
    bf16: bool | None = None   # CPU autocast in bfloat16 + channels-last; None: where the CPU has it natively

    def with_(self, **changes) -> "YoloRecipe":
        from dataclasses import replace

        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: Named recipes. ``paper``: the paper's YOLOv7 settings (608 px, batch 4, 200 epochs), on YOLO11n.
PRESETS = {
    "default": YoloRecipe(),
    "paper": YoloRecipe(imgsz=608, batch=4, epochs=200, optimizer="SGD", lr0=0.01, flipud=0.0),
    "tiny": YoloRecipe(imgsz=64, epochs=1, batch=2, mosaic=0.0, close_mosaic=0, bf16=False),
}


def _offline():
    """Keep Ultralytics off the network: no update checks, no hub, no font or weight downloads."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.utils import SETTINGS

    with contextlib.suppress(Exception):
        SETTINGS.update({"sync": False, "hub": False, "tensorboard": False, "wandb": False, "mlflow": False,
                         "comet": False, "clearml": False, "neptune": False, "dvc": False, "raytune": False})


def _bf16_trainer():
    """A DetectionTrainer that trains under CPU bfloat16 autocast with channels-last tensors.

    Ultralytics disables mixed precision on CPU; its ``amp='bf16'`` path only
    admits CUDA. On CPUs with AMX-BF16 the autocast step is ~1.5-2x faster.
    Weights, EMA, optimizer state and validation stay in float32.
    """
    import torch
    from ultralytics.engine import trainer as base
    from ultralytics.models.yolo.detect import DetectionTrainer

    cuda_autocast = base.autocast

    def autocast(enabled, device="cuda"):
        if device == "cpu" and enabled is torch.bfloat16:
            return torch.amp.autocast("cpu", dtype=torch.bfloat16)
        return cuda_autocast(enabled, device=device)

    base.autocast = autocast

    class Bf16Trainer(DetectionTrainer):
        def _setup_train(self, *args, **kwargs):
            super()._setup_train(*args, **kwargs)
            self.model.to(memory_format=torch.channels_last)

        def preprocess_batch(self, batch):
            batch = super().preprocess_batch(batch)
            batch["img"] = batch["img"].contiguous(memory_format=torch.channels_last)
            return batch

    return Bf16Trainer


def train_yolo(data, *, out, recipe: YoloRecipe = PRESETS["default"], weights=None, resume: bool = False,
               seed: int = 0, workers: int = 2, device: str = "cpu", name: str = "yolo",
               threads: int | None = None) -> Path:
    """Train (or resume) a YOLO model; return the best checkpoint.

    Parameters
    ----------
    data : path
        An Ultralytics ``data.yaml`` (see :func:`prepare_data`).
    out : path
        Run folder parent; the run lives in ``out/name`` (``weights/last.pt``
        is written every epoch, so a stopped run resumes with ``resume=True``).
    recipe : YoloRecipe
        Model, image size, epochs and augmentation.
    weights : path, optional
        A checkpoint to fine-tune from (transfer learning); default trains
        from the model yaml, from scratch.
    resume : bool
        Continue ``out/name/weights/last.pt`` where it stopped.
    seed, workers, device
        Passed to Ultralytics (``device`` ``"cpu"`` or ``"0"`` for a GPU). On
        the CPU, Ultralytics loads the data in the main process whatever
        ``workers`` says.
    threads : int, optional
        Torch threads when training on the CPU; default all cores. (Ultralytics
        sets one core fewer than the machine has: on a 2-core laptop, half of it.)

    Returns
    -------
    Path
        ``out/name/weights/best.pt``.
    """
    _offline()
    import ultralytics.utils.torch_utils as ul_torch
    from ultralytics import YOLO

    # select_device() calls torch.set_num_threads(NUM_THREADS), cpu_count - 1: one thread on 2 cores.
    ul_torch.NUM_THREADS = int(threads or os.cpu_count() or 1)
    out = Path(out).resolve()
    run = out / name
    last = run / "weights" / "last.pt"
    bf16 = device == "cpu" and resolve_bf16(recipe.bf16)  # CPU autocast: never on a GPU
    recipe = recipe.with_(bf16=bf16)  # the run's recipe.json records what it used
    trainer = _bf16_trainer() if bf16 else None
    t0 = time.time()
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"{last}: nothing to resume")
        model = YOLO(str(last))
        model.train(resume=True, trainer=trainer)
    else:
        # A checkpoint to fine-tune is opened as the model itself: with a yaml + .load() and our
        # trainer class (CPU bf16), Ultralytics started from random weights (a test checks this).
        model = YOLO(str(weights)) if weights else YOLO(f"{recipe.model}.yaml")
        run.mkdir(parents=True, exist_ok=True)
        (run / "recipe.json").write_text(json.dumps(asdict(recipe), indent=1))
        model.train(data=str(Path(data).resolve()), project=str(out), name=name, exist_ok=True,
                    imgsz=recipe.imgsz, epochs=recipe.epochs, batch=recipe.batch, optimizer=recipe.optimizer,
                    lr0=recipe.lr0, close_mosaic=recipe.close_mosaic, mosaic=recipe.mosaic,
                    flipud=recipe.flipud, fliplr=recipe.fliplr, degrees=recipe.degrees, scale=recipe.scale,
                    translate=recipe.translate, hsv_v=recipe.hsv_v, patience=recipe.patience or 10_000,
                    amp="bf16" if bf16 else False, seed=seed, deterministic=True, workers=workers,
                    device=device, plots=False, val=True, pretrained=bool(weights), verbose=False,
                    trainer=trainer)
    with (run / "wall_time.txt").open("a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {time.time() - t0:.0f} s "
                 f"{'resume' if resume else 'start'} device={device}\n")
    best = run / "weights" / "best.pt"
    return best if best.is_file() else last


def export_onnx(weights, dst, *, imgsz: int, opset: int = 17) -> Path:
    """Export a checkpoint to ONNX (fixed input ``1x3ximgszximgsz``, output ``1x5xN``); return ``dst``.

    Parameters
    ----------
    weights : path
        An Ultralytics ``.pt`` checkpoint.
    dst : path
        Where to write the ``.onnx``.
    imgsz : int
        Network input size.
    opset : int
        ONNX opset.
    """
    _offline()
    import shutil

    from ultralytics import YOLO

    model = YOLO(str(weights))
    path = model.export(format="onnx", imgsz=imgsz, opset=opset, simplify=True, dynamic=False, half=False,
                        nms=False, device="cpu", verbose=False)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), dst)
    return dst


def plot_learning_curve(results_csv, png) -> Path:
    """Plot losses and validation mAP per epoch from an Ultralytics ``results.csv``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(results_csv) as fh:
        rows = [{k.strip(): float(v) for k, v in r.items() if v not in (None, "")} for r in csv.DictReader(fh)]
    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in ("train/box_loss", "train/cls_loss", "val/box_loss", "val/cls_loss"):
        if key in rows[0]:
            a.plot(ep, [r[key] for r in rows], label=key)
    a.set_yscale("log")  # the first epochs' validation losses would flatten the rest
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend(fontsize=8)
    for key in ("metrics/mAP50(B)", "metrics/mAP50-95(B)", "metrics/precision(B)", "metrics/recall(B)"):
        if key in rows[0]:
            b.plot(ep, [r[key] for r in rows], label=key.split("/")[1])
    b.set_xlabel("epoch"), b.set_ylabel("validation (held-out source ids)"), b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return Path(png)


def pick_threshold(onnx_path, data_yaml, *, split: str = "val") -> dict:
    """Best-F1 score threshold of an exported model on a held-out split (never on real-dev).

    Runs the exported model exactly as ``--method yolo`` does (ONNX Runtime,
    the whole pipeline), scores it with :func:`dsodetect.evaluation.evaluate`.

    Returns
    -------
    dict
        ``threshold`` and the split's P/R/F1 at it, mAP@0.5, image count.
    """
    from ..detectors.yolo import YoloDetector
    from ..evaluation import evaluate
    from .data import score_split, split_items

    items = split_items(data_yaml, split)
    pred, truth = score_split(YoloDetector(str(onnx_path), conf=0.01), items)
    rep = evaluate(pred, truth, iou=0.5)
    thr = round(float(rep["best_threshold"]), 3)
    at = evaluate(pred, truth, iou=0.5, min_score=thr)
    return {"threshold": thr, "images": len(items), "P": round(at["precision"], 4), "R": round(at["recall"], 4),
            "F1": round(at["f1"], 4), "mAP50": round(float(at["map50"]), 4)}


def quantize_int8(onnx_path, dst, data_yaml, *, split: str = "train", images: int = 100) -> Path:
    """Static int8 quantization of an exported YOLO model with ONNX Runtime; return ``dst``.

    The convolutions become int8 (weights per channel, activations calibrated
    by their min/max on ``images`` tiles of ``split``, letterboxed as
    ``--method yolo`` feeds them). Everything else stays float: the head ends
    by concatenating box pixels (0-imgsz) and class probabilities (0-1) into
    one tensor, and one int8 scale for both wipes out the scores (F1 0.24
    against 0.66 on the held-out ids when every operator was quantized).
    Needs no torch: ONNX Runtime ships the quantizer (it reads the graph with onnx, of the train extra).

    Parameters
    ----------
    onnx_path : path
        The float model (``export_onnx``).
    dst : path
        Where to write the int8 model.
    data_yaml : path
        A split data set; calibration images come from ``split`` (never
        real-dev), evenly spaced.
    split : str
        Calibration split.
    images : int
        Calibration images.
    """
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..detectors.yolo import YoloDetector
    from ..io import read_image
    from .data import split_items

    det = YoloDetector(str(onnx_path))
    items = split_items(data_yaml, split)
    if not items:
        raise ValueError(f"{data_yaml}: no {split!r} images to calibrate on")
    picked = items[:: max(1, len(items) // images)][:images]
    inputs = [det.network_input(read_image(p))[0] for p, _ in picked]

    class Tiles(CalibrationDataReader):
        def __init__(self):
            self._it = iter({det.input_name: x} for x in inputs)

        def get_next(self):
            return next(self._it, None)

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(onnx_path), str(pre))  # shape inference + graph clean-up, as ONNX Runtime advises
        quantize_static(str(pre), str(dst), Tiles(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    return dst


def int8_card(source, name: str, file: str, *, val: dict, calibration: str):
    """The card of an int8 model made by :func:`quantize_int8` from ``source`` (a :class:`ModelCard`)."""
    from dataclasses import replace

    extra = dict(source.extra, min_score=val["threshold"], quantized_from=source.name)
    return replace(source, name=name, file=file, sha256="",
                   summary=f"{source.name} quantized to int8 (ONNX Runtime static quantization: convolutions int8, "
                           "weights per channel; the detection head's decoding float)",
                   training=f"{source.training}, then dsodetect train yolo-int8 --model {source.name} "
                            f"(calibration: {calibration})",
                   scores={"val_source_ids": val}, created=time.strftime("%Y-%m-%d"), extra=extra)


def yolo_card(name: str, file: str, recipe: YoloRecipe, run: Path, *, data: str, wall_time: str,
              val: dict | None = None):
    """The :class:`~dsodetect.models.ModelCard` of an exported YOLO model."""
    from ..models import ModelCard

    epochs_done = 0
    results = Path(run) / "results.csv"
    if results.is_file():
        epochs_done = max(0, len(results.read_text().strip().splitlines()) - 1)
    used = Path(run) / "recipe.json"  # what the run resolved (bf16 by the CPU) beats what was asked for
    recipe_used = {**asdict(recipe), **(json.loads(used.read_text()) if used.is_file() else {})}
    extra = {"imgsz": recipe.imgsz, "tile_size": 640}
    scores = {}
    if val:
        extra["min_score"] = val["threshold"]
        scores["val_source_ids"] = val
    return ModelCard(
        name=name, method="yolo", file=file, sha256="",
        summary=f"{recipe.model} trained from scratch ({recipe.imgsz} px input), one class 'DSO', ONNX (opset 17)",
        data=f"{data}: real smart-telescope tiles (DeepSpaceYoloDataset), split by source id",
        training=(f"dsodetect train yolo --data {data} --model {recipe.model} --imgsz {recipe.imgsz} "
                  f"--epochs {recipe.epochs} --batch {recipe.batch}"),
        recipe=dict(recipe_used, epochs_done=epochs_done), scores=scores, wall_time=wall_time,
        created=time.strftime("%Y-%m-%d"), extra=extra)
