"""Train the presence classifier of the ``xai`` method: "is there a deep-sky object in this 224 px crop?".

Needs the ``train`` extra (torch, torchvision, albumentations). The network is
trained from scratch (no pretrained weights can be fetched here) on crops of a
YOLO data set split by source id, with fresh random crops every epoch
(:func:`dsodetect.dataset.crops.random_crops`; the label rule is
:func:`~dsodetect.dataset.crops.crop_label`) and balanced classes. It is
exported to one ONNX file that serves both ONNX Runtime (fast presence checks)
and torch (XRAI needs gradients): see :mod:`dsodetect.detectors.xai.network`.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..detectors.xai.network import ARCHS, build_network
from ..postprocess.heatmap import TRIMS
from .checkpoints import cpu_autocast, load_checkpoint, resolve_bf16, save_checkpoint
from .data import train_val_samples

__all__ = ["ClassifierRecipe", "PRESETS", "load_crop_sources", "crop_table", "train_classifier",
           "export_classifier", "evaluate_classifier", "tune_xai", "plot_history", "classifier_card"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierRecipe:
    """Everything that decides a training run (stored in the checkpoint and the model card)."""

    arch: str = "mobilenet_v3_small"
    size: int = 224
    epochs: int = 12
    batch: int = 32
    lr: float = 1e-3            # Adam, the paper's rate, cosine-decayed
    weight_decay: float = 1e-4
    crops_per_image: int = 6    # fresh random crops per image and epoch, then balanced
    bf16: bool | None = None    # CPU bfloat16 autocast + channels-last; None: for networks it speeds up, on CPUs
                                # with native bfloat16

    def with_(self, **changes) -> "ClassifierRecipe":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: ``default`` is the shipped model's recipe; ``paper`` is the paper's ResNet50 (50 epochs, batch 16);
#: ``tiny`` is a smoke test.
PRESETS = {
    "default": ClassifierRecipe(),
    "paper": ClassifierRecipe(arch="resnet50", epochs=50, batch=16),
    "tiny": ClassifierRecipe(epochs=1, batch=8, crops_per_image=2),
}

# bf16 autocast + channels-last, measured here (one step, batch 32, 224 px, 2 cores): ResNet18 0.49 s vs 1.30 s fp32,
# ResNet50 1.81 vs 5.31 s; MobileNetV3-small 0.49 vs 0.30 s and MobileNetV2 1.29 vs 1.30 s (depthwise convolutions
# gain nothing), so bf16 is on by default for the ResNets only, and only where the CPU has bfloat16 natively (on an
# AVX2-only CPU it is emulated: ResNet18 50.9 s against 4.4 s, benchmarks/train_step.py).
_BF16_DEFAULT = {"resnet18": True, "resnet50": True}


def load_crop_sources(samples, on_error=None):
    """``(images, boxes)`` of samples: 8-bit display RGB arrays and their label boxes in pixels."""
    from ..dataset.yolo import load_samples

    images, boxes = [], []
    for _, rgb, dets in load_samples(samples, on_error):
        images.append(rgb)
        boxes.append(dets)
    return images, boxes


def crop_table(images, boxes, *, per_image: int, size: int, seed: int, balanced: bool = True):
    """Crop windows ``(image index, (x0, y0, x1, y1), label)`` drawn at random, classes balanced.

    A window is labelled by :func:`~dsodetect.dataset.crops.crop_label`: DSO
    when it holds at least half of a published box or a box covers half of it,
    empty when no box touches more than 2 % of either; ambiguous windows are
    not used.
    """
    from ..dataset.crops import balance, random_crops

    rng = np.random.default_rng(seed)
    table = []
    for i, (rgb, dets) in enumerate(zip(images, boxes)):
        h, w = rgb.shape[:2]
        table += [(i, win, lab) for win, lab in random_crops(rng, h, w, dets, per_image, size)]
    return balance(table, rng, key=lambda it: it[2]) if balanced else table


class _Crops:
    """A torch map-style data set over a crop table (augmented with albumentations when ``augment``)."""

    def __init__(self, images, table, size: int, augment: bool, seed: int):
        from ..dataset.augment import classification_augmentations

        self.images, self.table, self.size = images, table, size
        self.pipeline = classification_augmentations(size) if augment else None
        if self.pipeline is not None:
            self.pipeline.set_random_seed(seed)

    def __len__(self):
        return len(self.table)

    def __getitem__(self, k):
        import cv2
        import torch

        i, (x0, y0, x1, y1), lab = self.table[k]
        crop = self.images[i][y0:y1, x0:x1]
        if self.pipeline is not None:
            crop = self.pipeline(image=crop)["image"]
        elif crop.shape[:2] != (self.size, self.size):
            crop = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().div_(255)
        return x, torch.tensor([float(lab)])



def evaluate_classifier(net, loader, *, bf16: bool = False, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall and confusion matrix ``[[TN, FP], [FN, TP]]`` of a network on a loader."""
    import torch

    net.eval()
    probs, labels = [], []
    with torch.no_grad(), cpu_autocast(bf16):
        for x, y in loader:
            probs.append(torch.sigmoid(net(x.contiguous(memory_format=torch.channels_last)).float()).squeeze(1))
            labels.append(y.squeeze(1))
    p = torch.cat(probs).numpy() if probs else np.zeros(0)
    t = torch.cat(labels).numpy().astype(bool) if labels else np.zeros(0, bool)
    pred = p >= threshold
    tp, fp = int(np.sum(pred & t)), int(np.sum(pred & ~t))
    fn, tn = int(np.sum(~pred & t)), int(np.sum(~pred & ~t))
    n = max(len(t), 1)
    return {"accuracy": (tp + tn) / n, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "confusion": [[tn, fp], [fn, tp]], "crops": int(len(t))}


def train_classifier(data, *, out, recipe: ClassifierRecipe = PRESETS["default"], resume: bool = False,
                     seed: int = 0, progress: bool = True, on_error=None) -> Path:
    """Train the presence classifier on a split YOLO data set; return the best checkpoint (``best.pt``).

    Parameters
    ----------
    data : path
        A ``data.yaml`` or folder with ``train`` and ``val`` splits (see
        :func:`dsodetect.train.data.prepare_data`, which splits by source id);
        with ``resume``, None means the run's own.
    out : path
        Run folder: ``last.pt`` (every epoch, for ``resume``), ``best.pt`` (best
        validation accuracy), ``history.json``, ``history.png``.
    recipe : ClassifierRecipe
        Architecture and hyper-parameters.
    resume : bool
        Continue from ``out/last.pt`` (its recipe wins).
    seed : int
        Seed of crops, augmentation, initialisation and shuffling.
    progress : bool
        Show a progress bar per epoch.

    Returns
    -------
    Path
        ``out/best.pt``.

    Examples
    --------
    >>> train_classifier("runs/data/data.yaml", out="runs/classifier")  # doctest: +SKIP
    """
    import torch
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume:
        state = load_checkpoint(out / "last.pt")
        recipe = ClassifierRecipe(**state["recipe"])
        seed = state["seed"]
        data = data if data is not None else state["data"]
    if recipe.arch not in ARCHS:
        raise ValueError(f"unknown architecture {recipe.arch!r}; choose from {', '.join(ARCHS)}")
    bf16 = resolve_bf16(recipe.bf16, default=_BF16_DEFAULT.get(recipe.arch, False))
    train_s, val_s = train_val_samples(data)
    t_load = time.time()
    train_img, train_box = load_crop_sources(train_s, on_error)
    val_img, val_box = load_crop_sources(val_s, on_error)
    log.info("loaded %d train and %d val images in %.0f s", len(train_img), len(val_img), time.time() - t_load)
    # Validation crops are drawn once (fixed seed) so epochs are comparable.
    val_table = crop_table(val_img, val_box, per_image=recipe.crops_per_image, size=recipe.size, seed=10_000 + seed)
    val_loader = torch.utils.data.DataLoader(_Crops(val_img, val_table, recipe.size, False, seed),
                                             batch_size=64, shuffle=False)

    torch.manual_seed(seed)
    net = build_network(recipe.arch).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(recipe.epochs, 1))
    history, start, best_acc = [], 0, -1.0
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, start, best_acc = state["history"], state["epoch"] + 1, state["best_accuracy"]
        torch.set_rng_state(state["torch_rng"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(start, recipe.epochs):
        t0 = time.time()
        table = crop_table(train_img, train_box, per_image=recipe.crops_per_image, size=recipe.size,
                           seed=seed * 1000 + epoch)
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        loader = torch.utils.data.DataLoader(_Crops(train_img, table, recipe.size, True, seed * 1000 + epoch),
                                             batch_size=recipe.batch, shuffle=True, generator=gen,
                                             drop_last=len(table) > recipe.batch)
        net.train()
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=not progress, leave=False)
        for x, y in bar:
            with cpu_autocast(bf16):
                logit = net(x.contiguous(memory_format=torch.channels_last))
            loss = loss_fn(logit.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(x)
            count += len(x)
            bar.set_postfix(loss=f"{total / max(count, 1):.3f}")
        sched.step()
        val = evaluate_classifier(net, val_loader, bf16=bf16)
        row = {"epoch": epoch + 1, "train_loss": total / max(count, 1), "train_crops": count,
               "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 1),
               **{f"val_{k}": v for k, v in val.items()}}
        history.append(row)
        log.info("epoch %d/%d: loss %.4f, val accuracy %.4f (P %.3f R %.3f), confusion %s, %.0f s", epoch + 1,
                 recipe.epochs, row["train_loss"], val["accuracy"], val["precision"], val["recall"],
                 val["confusion"], row["seconds"])
        ckpt = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": epoch, "history": history, "recipe": asdict(recipe), "seed": seed,
                "best_accuracy": max(best_acc, val["accuracy"]), "torch_rng": torch.get_rng_state(),
                "bf16": bf16, "data": str(data)}
        save_checkpoint(ckpt, out / "last.pt")
        if val["accuracy"] > best_acc:
            best_acc = val["accuracy"]
            save_checkpoint(ckpt, out / "best.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))
    if history:
        plot_history(history, out / "history.png")
    return out / "best.pt"



def export_classifier(checkpoint, dst, *, opset: int = 17) -> Path:
    """Export a checkpoint to ONNX: input ``(N, 3, 224, 224)`` RGB in [0, 1], output ``prob`` ``(N, 1)``.

    The file keeps batch normalisation unfolded and the parameters under their
    torch names, so :func:`dsodetect.detectors.xai.network.load_torch` rebuilds
    the torch network from it for XRAI (ONNX Runtime folds them itself when it
    loads the file); one file serves both.
    """
    import torch

    from ..detectors.xai.network import Presence

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    recipe = state["recipe"]
    net = build_network(recipe["arch"])
    net.load_state_dict(state["model"])
    model = Presence(net).eval()
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 3, recipe["size"], recipe["size"])
    # The TorchScript exporter (deprecated, still supported) keeps initializer names; torch.export renames them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (x,), str(dst), input_names=["image"], output_names=["prob"],
                          dynamic_axes={"image": {0: "batch"}, "prob": {0: "batch"}}, opset_version=opset,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL, dynamo=False)
    return dst


def tune_xai(onnx_path, data_yaml, *, split: str = "val", tops=(0.2, 0.3, 0.4), presences=(0.5, 0.7, 0.9),
             closes=(16, 32, 48), trims=TRIMS, steps: int = 16, baseline: str = "sky", cache: dict | None = None,
             progress: bool = True) -> dict:
    """Choose the xai method's ``top`` (X %), ``presence``, ``close``, ``trim`` and box-score threshold on a held-out
    split.

    Runs ``--method xai`` exactly as ``detect`` does over the split for every
    ``(presence, top, close, trim)`` of the grid (XRAI computed once per
    patch, then memoised in ``cache``; the heatmap once per image and
    ``(presence, top)``) and keeps the point and score threshold of the best
    F1 at IoU 0.5. Never run it on real-dev.

    Returns
    -------
    dict
        ``top``, ``presence``, ``close``, ``trim``, ``min_score``, and
        P/R/F1/mAP@0.5 there, every grid point's F1, the image count and the
        seconds of XRAI per patch.
    """
    from tqdm import tqdm

    from ..detectors.xai import XaiDetector
    from ..evaluation import evaluate
    from .data import memoize_heatmap, score_split, split_items

    items = split_items(data_yaml, split)
    cache = {} if cache is None else cache
    grid, best, xrai_s = {}, None, None
    points = [(p, t) for p in sorted(presences) for t in tops]
    boxing = [(c, r) for c in closes for r in trims]
    bar = tqdm(total=len(points) * len(boxing), desc="xai grid", disable=not progress)
    for presence, top in points:
        det = XaiDetector(str(onnx_path), presence=presence, top=top, conf=0.0, steps=steps, baseline=baseline,
                          cache=cache)
        memoize_heatmap(det)  # the box stage is all that changes within (presence, top)
        for close, trim in boxing:
            det.close, det.trim = close, trim
            t0, n0 = time.time(), len(cache)
            pred, truth = score_split(det, items)
            if len(cache) > n0 and xrai_s is None:  # the first pass computes XRAI; the rest reuse it
                xrai_s = (time.time() - t0) / (len(cache) - n0)
            rep = evaluate(pred, truth, iou=0.5)
            thr = round(float(rep["best_threshold"]), 3)
            at = evaluate(pred, truth, iou=0.5, min_score=thr)
            grid[f"presence={presence},top={top},close={close},trim={trim}"] = round(at["f1"], 4)
            row = {"top": top, "presence": presence, "close": close, "trim": trim, "min_score": thr,
                   "P": round(at["precision"], 4), "R": round(at["recall"], 4), "F1": round(at["f1"], 4),
                   "mAP50": round(float(rep["map50"]), 4)}
            if best is None or row["F1"] > best["F1"]:
                best = row
            bar.update()
    bar.close()
    return dict(best, images=len(items), grid=grid, patches_explained=len(cache),
                seconds_per_patch=round(xrai_s, 2) if xrai_s else None, baseline=baseline, steps=steps)


def plot_history(history, png) -> Path:
    """Training loss and validation accuracy / precision / recall per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [r["train_loss"] for r in history], label="train loss (BCE)")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend(fontsize=8)
    for key in ("val_accuracy", "val_precision", "val_recall"):
        b.plot(ep, [r[key] for r in history], label=key[4:])
    b.set_xlabel("epoch"), b.set_ylabel("held-out crops (validation source ids)"), b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return Path(png)


def classifier_card(name: str, file: str, checkpoint, *, data: str, wall_time: str, extra: dict | None = None,
                    val_boxes: dict | None = None):
    """The :class:`~dsodetect.models.ModelCard` of an exported presence classifier."""
    import torch

    from ..models import ModelCard

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    recipe, history = state["recipe"], state["history"]
    last = Path(checkpoint).with_name("last.pt")
    if last.is_file():  # the best epoch's checkpoint holds the history up to that epoch only
        history = torch.load(last, map_location="cpu", weights_only=False)["history"]
    best = max(history, key=lambda r: r["val_accuracy"]) if history else {}
    val = {k[4:]: v for k, v in best.items() if k.startswith("val_")}
    return ModelCard(
        name=name, method="xai", file=file, sha256="",
        summary=(f"presence classifier ({recipe['arch']}, trained from scratch on {recipe['size']} px crops), "
                 "ONNX; the same file rebuilds the torch network for XRAI"),
        data=f"{data}: crops of real smart-telescope tiles (DeepSpaceYoloDataset), split by source id",
        training=(f"dsodetect train classifier --data {data} --arch {recipe['arch']} --epochs {recipe['epochs']} "
                  f"--batch {recipe['batch']} --crops {recipe['crops_per_image']}"),
        recipe=dict(recipe, epochs_done=len(history), best_epoch=best.get("epoch")),
        scores={"val_crops_source_ids": val, **({"val_tiles_xai_boxes": val_boxes} if val_boxes else {})},
        wall_time=wall_time, created=time.strftime("%Y-%m-%d"),
        extra={"arch": recipe["arch"], "size": recipe["size"], **(extra or {})})
