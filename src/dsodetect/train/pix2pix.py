"""Train the ``pix2pix`` method: a generator that reproduces the ``xai`` heatmap in one fast pass.

Paper approach 4. The ``xai`` method (a presence classifier + XRAI) makes a
good heatmap but is slow; a Pix2Pix generator (Isola et al. 2017, as in the
TensorFlow tutorial the paper followed) learns the map image -> heatmap from
pairs made by the ``xai`` method itself (the *teacher*):

1. :func:`make_teacher_cache` runs the teacher on every tile once and caches
   its stitched heatmap (``<stem>.npy``, float16; resumable);
2. :func:`train_pix2pix` trains a U-Net generator against a 70x70 PatchGAN on
   random 256 px crops of (tile, teacher heatmap), augmented jointly;
3. :func:`export_generator` writes the generator to ONNX, which the
   ``pix2pix`` method runs on ONNX Runtime (:mod:`dsodetect.detectors.pix2pix`);
4. :func:`pick_threshold` chooses the heatmap threshold of
   :func:`~dsodetect.postprocess.heatmap_boxes` on the validation source ids
   and measures :func:`heatmap_fidelity` against the teacher.

Needs the ``train`` extra (torch, albumentations). Inference never imports
this module.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .checkpoints import cpu_autocast, load_checkpoint, resolve_bf16, save_checkpoint
from .data import memoize_heatmap, train_val_samples

__all__ = ["Pix2PixRecipe", "PRESETS", "make_teacher_cache", "teacher_info", "build_generator",
           "build_discriminator", "train_pix2pix", "export_generator", "heatmap_fidelity", "pick_threshold",
           "plot_history", "pix2pix_card"]

log = logging.getLogger(__name__)

#: Teacher-cache bookkeeping file.
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Pix2PixRecipe:
    """Everything that decides a training run (stored in the checkpoint and the model card)."""

    size: int = 256              # the U-Net's input (8 stride-2 levels: 256 -> 1)
    ngf: int = 16                # generator base width: 3.4 M parameters, 13.6 MB ONNX (32: 54 MB; 64, the
                                 # paper's: 54 M parameters, 218 MB)
    ndf: int = 32                # discriminator base width; 64 is the paper's
    epochs: int = 30
    batch: int = 4
    lr: float = 2e-4             # Adam, both networks (Isola et al.)
    beta1: float = 0.5
    decay: float = 0.5           # share of the epochs, at the end, over which lr falls linearly towards 0 (Isola et
                                 # al.: 100 epochs constant, 100 decaying); a constant lr leaves the GAN swinging
    lambda_l1: float = 100.0     # weight of the reconstruction loss against the adversarial one (Isola et al.)
    loss: str = "bce"            # reconstruction loss: "bce" (per-pixel cross-entropy, the heatmap as a soft
                                 # target: learns the conditional mean) or "l1" (Isola et al.: the median, which
                                 # is 0 wherever the teacher is unsure, so faint nebulae vanish)
    blur: float = 0.0            # Gaussian sigma (pixels) applied to the teacher heatmaps before training
    crops_per_image: int = 2     # fresh random 256 px crops per tile and epoch
    val_crops: int = 64          # fixed validation crops, scored every epoch
    bf16: bool = False           # CPU bfloat16 autocast + channels-last (only where the CPU has bfloat16 natively)

    def __post_init__(self):
        if self.loss not in RECON_LOSSES:
            raise ValueError(f"unknown pix2pix loss {self.loss!r}; choose from {', '.join(RECON_LOSSES)}")
        if not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"pix2pix decay must be a share of the epochs in [0, 1], not {self.decay}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``: constant, then a linear fall over the last ``decay`` share."""
        n_decay = round(self.epochs * self.decay)
        past = epoch - (self.epochs - n_decay)
        return self.lr * (1.0 - max(0, past + 1) / (n_decay + 1))

    def with_(self, **changes) -> "Pix2PixRecipe":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: Reconstruction losses of the generator (``Pix2PixRecipe.loss``).
RECON_LOSSES = ("l1", "bce")


def _recon_loss(name: str, pred, target):
    """The generator's reconstruction loss between a sigmoid output and the teacher heatmap, both in [0, 1]."""
    import torch.nn.functional as F

    if name == "bce":  # clamps log at -100 itself, so a saturated sigmoid cannot give inf
        return F.binary_cross_entropy(pred, target)
    return F.l1_loss(pred, target)


#: ``default``: slim generator (ngf 16) for a CPU, cross-entropy; ``paper``: ngf 64, batch 1, 100 epochs, lr 1e-4,
#: L1 (the paper's settings); ``tiny``: a smoke test.
PRESETS = {
    "default": Pix2PixRecipe(),
    "paper": Pix2PixRecipe(ngf=64, ndf=64, batch=1, epochs=100, lr=1e-4, loss="l1"),
    "tiny": Pix2PixRecipe(ngf=4, ndf=4, epochs=1, batch=2, crops_per_image=1, val_crops=4),
}


# --------------------------------------------------------------------------------------------- teacher cache


def teacher_info(detector) -> dict:
    """``{"method", "model", "options"}`` of a teacher detector: what its heatmaps depend on (JSON-ready)."""
    options = {}
    for opt in getattr(detector, "options", ()):
        value = getattr(detector, opt.name, getattr(detector, f"_{opt.name}", opt.default))
        options[opt.name] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
    card = getattr(detector, "card", None)
    model = getattr(card, "name", None) or options.get("model")
    return {"method": getattr(detector, "name", type(detector).__name__), "model": model, "options": options}


def _save_npy(path: Path, arr: np.ndarray) -> None:
    """Write an array atomically (an interrupted cache never holds half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
    tmp.replace(path)


def make_teacher_cache(images, dst, *, detector, progress: bool = True, on_error=None) -> dict:
    """Run the teacher on every image once and cache its heatmap as ``<dst>/<stem>.npy``.

    Each image goes through :func:`dsodetect.pipeline.detect` (the shared
    tiled inference, so a full frame gets the stitched heatmap). The
    ``heatmap`` product is saved as float16 at the image's size (resized when
    the product is smaller). Stems already cached are skipped, so an
    interrupted cache resumes; ``<dst>/manifest.json`` records the teacher
    (name, model, options) and the seconds each image took.

    Parameters
    ----------
    images : iterable of path
        Image files (any format :func:`~dsodetect.io.read_image` reads).
    dst : path
        Cache folder.
    detector : Detector
        The teacher: any object whose ``detect(image)`` returns a result with
        ``products["heatmap"]`` (the ``xai`` method).
    progress : bool
        Show a progress bar.
    on_error : callable, optional
        ``on_error(path, message)`` for an image that fails (unreadable, no
        heatmap); it is skipped and the rest go on. Default: a log warning.

    Returns
    -------
    dict
        The manifest: ``teacher``, ``images`` (stem -> file, shape, seconds),
        ``seconds_per_image``, ``computed`` (this call) and ``failed``.

    Raises
    ------
    ValueError
        When ``dst`` holds heatmaps of another teacher (mixing them would
        train on two conventions). Options the teacher lists in
        ``box_options`` (its box stage's: they do not change a heatmap) may
        differ.

    Examples
    --------
    >>> from dsodetect import get_detector
    >>> make_teacher_cache(paths, "runs/teacher", detector=get_detector("xai"))  # doctest: +SKIP
    """
    import cv2
    from tqdm import tqdm

    from ..io import file_stem, read_image
    from ..io.atomic import atomic_write
    from ..io.image import display_path
    from ..pipeline import detect, failure_reason

    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    report = on_error or (lambda p, m: log.warning("%s", m))
    teacher = teacher_info(detector)
    mpath = dst / MANIFEST
    manifest = json.loads(mpath.read_text()) if mpath.is_file() else {"teacher": teacher, "images": {}}
    box_only = set(getattr(detector, "box_options", ()))

    def heatmap_identity(t):
        return t and {**t, "options": {k: v for k, v in t.get("options", {}).items() if k not in box_only}}

    if heatmap_identity(manifest.get("teacher")) != heatmap_identity(teacher):
        raise ValueError(f"{dst} holds heatmaps of another teacher ({manifest.get('teacher')}, not {teacher}); "
                         "use another cache folder")
    paths = [Path(p) for p in images]
    todo = [p for p in paths if not (dst / f"{file_stem(p)}.npy").is_file()]
    failed, computed = [], 0

    def write_manifest():
        secs = [v["seconds"] for v in manifest["images"].values()]
        manifest["seconds_per_image"] = round(float(np.mean(secs)), 4) if secs else None
        atomic_write(mpath, json.dumps(manifest, indent=1).encode())

    for p in tqdm(todo, desc="teacher", unit="img", disable=not progress or not todo, leave=False):
        stem = file_stem(p)
        try:
            img = read_image(p)
            t0 = time.perf_counter()
            result = detect(img, detector)
            seconds = time.perf_counter() - t0
            prod = result.products.get("heatmap")
            if prod is None:
                raise ValueError(f"the teacher {teacher['method']!r} made no heatmap product")
            heat = np.clip(np.asarray(prod.data, np.float32), 0, 1)
            h, w = img.shape
            if heat.shape != (h, w):  # stitched products are capped in size: back to the image's pixels
                heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad image costs one line; the cache goes on
            failed.append(str(p))
            report(p, f"{display_path(p)}: {failure_reason(exc) if not isinstance(exc, ValueError) else exc}")
            continue
        _save_npy(dst / f"{stem}.npy", heat.astype(np.float16))
        manifest["images"][stem] = {"file": str(p), "shape": [h, w], "seconds": round(seconds, 4)}
        computed += 1
        if computed % 20 == 0:  # a stopped cache keeps its timings
            write_manifest()
    write_manifest()
    return dict(manifest, computed=computed, failed=failed)


# --------------------------------------------------------------------------------------------- networks


def build_generator(ngf: int = 16, *, size: int = 256):
    """The pix2pix U-Net generator: RGB in [0, 1] ``(N, 3, size, size)`` -> heatmap in [0, 1] ``(N, 1, size, size)``.

    Eight stride-2 4x4 convolutions down (widths ``ngf * (1, 2, 4, 8, 8, 8, 8,
    8)``, batch norm but on the first and the innermost, LeakyReLU 0.2), seven
    transposed convolutions up (batch norm, dropout 0.5 on the first three,
    ReLU), each concatenated with its mirror (skip connections), a last
    transposed convolution to one channel and a sigmoid (the heatmap is in
    [0, 1], where the tutorial's tanh makes an image in [-1, 1]). The input
    is mapped to [-1, 1] inside, so ONNX takes display pixels as they are.
    """
    import torch
    from torch import nn

    if size != 256:
        raise ValueError(f"the U-Net has 8 stride-2 levels and takes 256 px crops, not {size}")
    mult = (1, 2, 4, 8, 8, 8, 8, 8)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList()
            c_in = 3
            for i, m in enumerate(mult):
                # No norm on the first layer (Isola et al.) nor on the 1x1 bottleneck (one value per channel at
                # batch 1: batch norm is undefined there).
                norm = 0 < i < len(mult) - 1
                layers = [nn.Conv2d(c_in, ngf * m, 4, 2, 1, bias=not norm)]
                layers += [nn.BatchNorm2d(ngf * m)] if norm else []
                self.down.append(nn.Sequential(*layers, nn.LeakyReLU(0.2)))
                c_in = ngf * m
            self.up = nn.ModuleList()
            for j, m in enumerate(reversed(mult[:-1])):
                layers = [nn.ConvTranspose2d(c_in, ngf * m, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * m)]
                layers += [nn.Dropout(0.5)] if j < 3 else []
                self.up.append(nn.Sequential(*layers, nn.ReLU()))
                c_in = 2 * ngf * m  # concatenated with the skip
            self.last = nn.ConvTranspose2d(c_in, 1, 4, 2, 1)

        def forward(self, x):
            x = x * 2 - 1
            skips = []
            for d in self.down:
                x = d(x)
                skips.append(x)
            for u, s in zip(self.up, reversed(skips[:-1])):
                x = torch.cat([u(x), s], 1)
            return torch.sigmoid(self.last(x))

    net = UNet()
    net.apply(_init_weights)
    return net


def build_discriminator(ndf: int = 32):
    """The 70x70 PatchGAN: (RGB, heatmap) -> a ``(N, 1, 30, 30)`` grid of real/fake logits for 256 px input.

    C64-C128-C256-C512 (4x4, strides 2, 2, 2, 1; batch norm but on the first;
    LeakyReLU 0.2) then a 4x4 convolution to one logit per 70 px patch, with
    ``ndf`` in place of 64.
    """
    import torch
    from torch import nn

    class PatchGAN(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c_in = [], 4
            for i, (m, stride) in enumerate(((1, 2), (2, 2), (4, 2), (8, 1))):
                layers.append(nn.Conv2d(c_in, ndf * m, 4, stride, 1, bias=i == 0))
                layers += [nn.BatchNorm2d(ndf * m)] if i else []
                layers.append(nn.LeakyReLU(0.2))
                c_in = ndf * m
            layers.append(nn.Conv2d(c_in, 1, 4, 1, 1))
            self.body = nn.Sequential(*layers)

        def forward(self, image, heat):
            return self.body(torch.cat([image * 2 - 1, heat * 2 - 1], 1))

    net = PatchGAN()
    net.apply(_init_weights)
    return net


def _init_weights(m) -> None:
    """N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales (Isola et al.)."""
    from torch import nn

    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------------------------- data


def _pair_augmentations(size: int):
    """Random ``size`` crop + flips + 90° turns on image and heatmap together; brightness/contrast on the image.

    The heatmap is the ``mask`` target, so it follows every geometric step and
    no photometric one (albumentations applies pixel-level transforms to the
    image only).
    """
    import albumentations as A
    import cv2

    return A.Compose([
        A.PadIfNeeded(size, size, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0),
        A.RandomCrop(size, size),
        A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.15, p=0.5),
    ])


def _load_pairs(samples, cache: Path, on_error=None):
    """``(stems, images, heatmaps)``: 8-bit display RGB and the cached teacher heatmap of each sample."""
    import cv2

    from ..dataset.yolo import load_samples

    stems, images, heats = [], [], []
    have = [s for s in samples if (cache / f"{s.stem}.npy").is_file()]
    if len(have) < len(samples):  # a teacher run on a subset (--teacher-tiles): the others are simply not pairs
        log.info("%d of %d images have no teacher heatmap in %s: left out", len(samples) - len(have), len(samples),
                 cache)
    for s, rgb, _ in load_samples(have, on_error):
        heat = np.load(cache / f"{s.stem}.npy").astype(np.float32)
        if heat.shape != rgb.shape[:2]:
            heat = cv2.resize(heat, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        stems.append(s.stem)
        images.append(rgb)
        heats.append(heat)
    return stems, images, heats


class _Pairs:
    """A torch map-style data set of jointly augmented random crops (``per_image`` per image)."""

    def __init__(self, images, heats, *, size: int, per_image: int, seed: int, augment: bool = True):
        self.images, self.heats, self.per_image = images, heats, per_image
        if augment:
            self.pipeline = _pair_augmentations(size)
        else:  # validation: crops only
            import albumentations as A
            import cv2

            self.pipeline = A.Compose([A.PadIfNeeded(size, size, border_mode=cv2.BORDER_CONSTANT, fill=0,
                                                     fill_mask=0), A.RandomCrop(size, size)])
        self.pipeline.set_random_seed(seed)

    def __len__(self):
        return len(self.images) * self.per_image

    def __getitem__(self, k):
        import torch

        i = k // self.per_image
        out = self.pipeline(image=self.images[i], mask=self.heats[i])
        x = torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1))).float().div_(255)
        y = torch.from_numpy(np.ascontiguousarray(out["mask"], dtype=np.float32))[None]
        return x, y


def _fixed_crops(images, heats, *, size: int, n: int, seed: int):
    """``n`` validation crops drawn once (fixed seed), so epochs are comparable: tensors ``(x, y)``."""
    import torch

    if not images:
        return torch.zeros(0, 3, size, size), torch.zeros(0, 1, size, size)
    per = max(1, int(np.ceil(n / len(images))))
    ds = _Pairs(images, heats, size=size, per_image=per, seed=seed, augment=False)
    # Spread over the images (not all from the first ones when there are more images than crops).
    picks = np.unique(np.linspace(0, len(ds) - 1, min(n, len(ds))).round().astype(int))
    xs, ys = zip(*(ds[int(k)] for k in picks))
    return torch.stack(xs), torch.stack(ys)


# --------------------------------------------------------------------------------------------- fidelity


def _top_mask(h: np.ndarray, top: float) -> np.ndarray:
    """Pixels in the ``top`` fraction of a heatmap (non-zero ones only)."""
    if not h.size or float(h.max()) <= 0:
        return np.zeros(h.shape, bool)
    return (h >= float(np.quantile(h, 1.0 - top))) & (h > 0)


def heatmap_fidelity(pred, teacher, *, top: float = 0.1, image=None, threshold: float = 0.3,
                     min_area: int = 16, close: int = 0, trim: float = 0.0) -> dict:
    """How closely a predicted heatmap reproduces the teacher's.

    Parameters
    ----------
    pred, teacher : ndarray
        ``(H, W)`` heatmaps in [0, 1] (``pred`` is resized to ``teacher``'s
        shape when they differ).
    top : float
        Fraction of the pixels in the "top" masks compared by IoU (the xai
        convention keeps the top X % of each patch).
    image : Image or ndarray, optional
        What the overlays are drawn on (:func:`dsodetect.outputs.heatmap_overlay`,
        as the annotated PNG shows them); default a black frame, so the PSNR
        compares the rendered colour maps alone.
    threshold, min_area, close, trim : float, int, int, float
        Box extraction (:func:`dsodetect.postprocess.heatmap_boxes`) on both maps.

    Returns
    -------
    dict
        ``correlation`` (Pearson, over pixels; 1 when both maps are
        constant and equal, 0 when one is constant), ``top_iou`` (IoU of the
        top-``top`` masks; 1 when both are empty), ``overlay_psnr`` (dB, of the
        two uint8 overlays; OpenCV's ``PSNR``, 361 for identical renderings),
        ``box_precision``, ``box_recall``, ``box_f1`` (the prediction's boxes
        matched one-to-one at IoU 0.5 to the teacher's by
        :func:`dsodetect.evaluation.match_image`; 1 when neither has a box),
        ``boxes_pred``, ``boxes_teacher``.

    Examples
    --------
    >>> h = np.zeros((64, 64), np.float32); h[10:30, 10:30] = 0.8
    >>> f = heatmap_fidelity(h, h)
    >>> round(f["correlation"], 3), f["top_iou"], f["box_f1"]
    (1.0, 1.0, 1.0)
    """
    import cv2

    from ..detection import boxes_array
    from ..evaluation import match_image, prf
    from ..io import Image
    from ..outputs import heatmap_overlay
    from ..postprocess import heatmap_boxes

    t = np.clip(np.asarray(teacher, np.float32), 0, 1)
    p = np.clip(np.asarray(pred, np.float32), 0, 1)
    if p.shape != t.shape:
        p = cv2.resize(p, (t.shape[1], t.shape[0]), interpolation=cv2.INTER_LINEAR)
    sp, st = float(p.std()), float(t.std())
    if sp > 0 and st > 0:
        corr = float(np.corrcoef(p.ravel(), t.ravel())[0, 1])
    else:
        corr = 1.0 if np.allclose(p, t) else 0.0
    mp, mt = _top_mask(p, top), _top_mask(t, top)
    union = int((mp | mt).sum())
    iou = float((mp & mt).sum() / union) if union else 1.0
    if image is None:
        image = Image(np.zeros(t.shape + (3,), np.float32), stretched=True)
    elif isinstance(image, np.ndarray):
        image = Image(image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0), stretched=True)
    psnr = float(cv2.PSNR(heatmap_overlay(image, p), heatmap_overlay(image, t)))
    bp = heatmap_boxes(p, threshold=threshold, min_area=min_area, close=close, trim=trim)
    bt = heatmap_boxes(t, threshold=threshold, min_area=min_area, close=close, trim=trim)
    m = match_image(boxes_array(bp), np.array([d.score for d in bp]), boxes_array(bt), 0.5)
    prec, rec, f1 = prf(*m.counts())
    if not bp and not bt:
        prec = rec = f1 = 1.0  # both say "nothing here": they agree
    return {"correlation": corr, "top_iou": iou, "overlay_psnr": psnr, "box_precision": prec,
            "box_recall": rec, "box_f1": f1, "boxes_pred": len(bp), "boxes_teacher": len(bt)}


def _mean_fidelity(rows: list[dict]) -> dict:
    keys = ("correlation", "top_iou", "overlay_psnr", "box_precision", "box_recall", "box_f1")
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys} if rows else {}


# --------------------------------------------------------------------------------------------- training




def _colour(heat: np.ndarray) -> np.ndarray:
    """A heatmap in [0, 1] as an inferno RGB uint8 image (the colour map of the annotated PNG)."""
    import cv2

    return cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[:, :, ::-1]


def _sample_grid(gen, x, y, png: Path, *, bf16: bool) -> Path:
    """Rows of input | teacher | prediction for fixed validation crops."""
    import torch

    from ..outputs import write_image

    gen.eval()
    with torch.no_grad(), cpu_autocast(bf16):
        pred = gen(x).float()
    rows = []
    for k in range(len(x)):
        rgb = (x[k].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        sep = np.full((rgb.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.hstack([rgb, sep, _colour(y[k, 0].numpy()), sep, _colour(pred[k, 0].numpy())]))
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    grid = np.vstack([r for row in rows for r in (row, gap)][:-1])
    png.parent.mkdir(parents=True, exist_ok=True)
    return write_image(png, grid)


def _validate(gen, x, y, *, bf16: bool, top: float, loss: str) -> dict:
    """Validation loss (the recipe's), L1 and mean fidelity of the generator on the fixed crops."""
    import torch

    gen.eval()
    preds = []
    with torch.no_grad(), cpu_autocast(bf16):
        for i in range(0, len(x), 16):
            preds.append(gen(x[i:i + 16]).float())
    pred = torch.cat(preds)
    l1 = float(torch.nn.functional.l1_loss(pred, y))
    fid = _mean_fidelity([heatmap_fidelity(pred[k, 0].numpy(), y[k, 0].numpy(), top=top)
                          for k in range(len(x))])
    return {"loss": float(_recon_loss(loss, pred.clamp(0, 1), y)), "l1": l1, "correlation": fid["correlation"],
            "top_iou": fid["top_iou"], "box_f1": fid["box_f1"]}


def train_pix2pix(data, teacher_cache, *, out, recipe: Pix2PixRecipe = PRESETS["default"], resume: bool = False,
                  seed: int = 0, progress: bool = True, on_error=None, top: float = 0.1) -> Path:
    """Train the generator on (tile, teacher heatmap) pairs of a split YOLO data set; return ``best.pt``.

    Parameters
    ----------
    data : path
        A ``data.yaml`` or folder with ``train`` and ``val`` splits (see
        :func:`dsodetect.train.data.prepare_data`, which splits by source id).
    teacher_cache : path
        The folder :func:`make_teacher_cache` filled (``<stem>.npy``); images
        without a cached heatmap are reported through ``on_error`` and left out.
    out : path
        Run folder: ``last.pt`` (every epoch, for ``resume``), ``best.pt``
        (lowest validation loss, the recipe's), ``history.json``, ``history.png`` and
        ``samples/epoch_NNN.png`` (input | teacher | prediction of fixed
        validation crops).
    recipe : Pix2PixRecipe
        Widths and hyper-parameters.
    resume : bool
        Continue from ``out/last.pt`` (its recipe and seed win).
    seed : int
        Seed of crops, augmentation, initialisation and shuffling.
    progress : bool
        Show a progress bar per epoch.
    on_error : callable, optional
        ``on_error(path, message)`` for an unreadable image or a missing heatmap.
    top : float
        Top fraction compared by the validation IoU (:func:`heatmap_fidelity`).

    Returns
    -------
    Path
        ``out/best.pt``.

    Examples
    --------
    >>> train_pix2pix("runs/pix2pix-data/data.yaml", "runs/pix2pix-teacher", out="runs/pix2pix")  # doctest: +SKIP
    """
    import torch
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume:
        state = load_checkpoint(out / "last.pt")
        # Checkpoints from before the loss was a choice were trained with L1.
        recipe, seed = Pix2PixRecipe(**{"loss": "l1", "decay": 0.0, **state["recipe"]}), state["seed"]
    resolve_bf16(recipe.bf16, default=False)  # warns where bf16 would be emulated
    train_s, val_s = train_val_samples(data)
    cache = Path(teacher_cache)
    _, train_img, train_heat = _load_pairs(train_s, cache, on_error)
    _, val_img, val_heat = _load_pairs(val_s, cache, on_error)
    if not train_img or not val_img:
        raise ValueError(f"{cache}: no teacher heatmaps for the {'train' if not train_img else 'val'} images")
    if recipe.blur > 0:  # XRAI's hard segment and patch edges are not in the image: a student cannot learn them
        import cv2

        train_heat = [cv2.GaussianBlur(h, (0, 0), recipe.blur) for h in train_heat]
        val_heat = [cv2.GaussianBlur(h, (0, 0), recipe.blur) for h in val_heat]
    log.info("%d train and %d val tiles with teacher heatmaps", len(train_img), len(val_img))
    vx, vy = _fixed_crops(val_img, val_heat, size=recipe.size, n=recipe.val_crops, seed=10_000 + seed)
    # The sample grid shows the crops with the most teacher heat (an empty sky says little).
    show = torch.argsort(vy.mean(dim=(1, 2, 3)), descending=True)[:4]

    torch.manual_seed(seed)
    gen = build_generator(recipe.ngf, size=recipe.size)
    disc = build_discriminator(recipe.ndf)
    if recipe.bf16:
        gen, disc = gen.to(memory_format=torch.channels_last), disc.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(gen.parameters(), lr=recipe.lr, betas=(recipe.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=recipe.lr, betas=(recipe.beta1, 0.999))
    history, start, best_loss = [], 0, float("inf")
    if state is not None:
        gen.load_state_dict(state["generator"])
        disc.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        history, start = state["history"], state["epoch"] + 1
        best_loss = state.get("best_loss", state.get("best_l1"))  # "best_l1": checkpoints before loss choice
        torch.set_rng_state(state["torch_rng"])
    bce = torch.nn.BCEWithLogitsLoss()
    fmt = torch.channels_last if recipe.bf16 else torch.contiguous_format
    for epoch in range(start, recipe.epochs):
        t0 = time.time()
        for group in (*opt_g.param_groups, *opt_d.param_groups):
            group["lr"] = recipe.lr_at(epoch)
        ep_seed = seed * 1000 + epoch  # each epoch its own crops: a resumed run draws the same ones
        ds = _Pairs(train_img, train_heat, size=recipe.size, per_image=recipe.crops_per_image, seed=ep_seed)
        loader = torch.utils.data.DataLoader(ds, batch_size=recipe.batch, shuffle=True,
                                             generator=torch.Generator().manual_seed(ep_seed),
                                             drop_last=len(ds) > recipe.batch)
        gen.train()
        disc.train()
        sums = {"g_adv": 0.0, "g_rec": 0.0, "d": 0.0}
        count = 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=not progress, leave=False)
        for x, y in bar:
            x, y = x.contiguous(memory_format=fmt), y.contiguous(memory_format=fmt)
            with cpu_autocast(recipe.bf16):
                fake = gen(x)
            # Discriminator: real pairs -> 1, generated pairs -> 0 (halved, as Isola et al. slow D down).
            with cpu_autocast(recipe.bf16):
                d_real, d_fake = disc(x, y), disc(x, fake.detach())
            loss_d = 0.5 * (bce(d_real.float(), torch.ones_like(d_real, dtype=torch.float32))
                            + bce(d_fake.float(), torch.zeros_like(d_fake, dtype=torch.float32)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # Generator: fool the discriminator, and stay close to the teacher (the recipe's loss, weighted lambda).
            with cpu_autocast(recipe.bf16):
                d_fake = disc(x, fake)
            loss_adv = bce(d_fake.float(), torch.ones_like(d_fake, dtype=torch.float32))
            loss_rec = _recon_loss(recipe.loss, fake.float(), y)
            loss_g = loss_adv + recipe.lambda_l1 * loss_rec
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            n = len(x)
            sums["g_adv"] += float(loss_adv.detach()) * n
            sums["g_rec"] += float(loss_rec.detach()) * n
            sums["d"] += float(loss_d.detach()) * n
            count += n
            bar.set_postfix({recipe.loss: f"{sums['g_rec'] / count:.4f}", "d": f"{sums['d'] / count:.3f}"})
        val = _validate(gen, vx, vy, bf16=recipe.bf16, top=top, loss=recipe.loss)
        row = {"epoch": epoch + 1, **{f"train_{k}": v / max(count, 1) for k, v in sums.items()},
               "train_crops": count, "seconds": round(time.time() - t0, 1), **{f"val_{k}": v for k, v in val.items()}}
        history.append(row)
        log.info("epoch %d/%d: %s %.4f adv %.3f D %.3f | val %s %.4f corr %.3f top-IoU %.3f box F1 %.3f, %.0f s",
                 epoch + 1, recipe.epochs, recipe.loss, row["train_g_rec"], row["train_g_adv"], row["train_d"],
                 recipe.loss, val["loss"],
                 val["correlation"], val["top_iou"], val["box_f1"], row["seconds"])
        _sample_grid(gen, vx[show], vy[show], out / "samples" / f"epoch_{epoch + 1:03d}.png", bf16=recipe.bf16)
        ckpt = {"generator": gen.state_dict(), "discriminator": disc.state_dict(), "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(), "epoch": epoch, "history": history, "recipe": asdict(recipe),
                "seed": seed, "best_loss": min(best_loss, val["loss"]), "torch_rng": torch.get_rng_state(),
                "teacher_cache": str(cache)}
        save_checkpoint(ckpt, out / "last.pt")
        if val["loss"] < best_loss:
            best_loss = val["loss"]
            save_checkpoint(ckpt, out / "best.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))
    if history:
        plot_history(history, out / "history.png")
    return out / "best.pt"


def _rec(row: dict, prefix: str) -> float:
    """A history row's reconstruction loss (``<prefix>_rec``/``val_loss``; ``*_l1`` in runs made before the loss
    became a choice)."""
    keys = ("train_g_rec", "train_g_l1") if prefix == "train_g" else ("val_loss", "val_l1")
    return next(row[k] for k in keys if k in row)


def plot_history(history, png) -> Path:
    """Generator and discriminator losses, and validation loss / correlation / top-IoU, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [_rec(r, "train_g") for r in history], label="generator reconstruction")
    a.plot(ep, [_rec(r, "val") for r in history], label="validation reconstruction")
    a.set_xlabel("epoch"), a.set_ylabel("reconstruction loss"), a.legend(fontsize=8, loc="upper left")
    a2 = a.twinx()
    a2.plot(ep, [r["train_g_adv"] for r in history], "C2--", label="generator adversarial")
    a2.plot(ep, [r["train_d"] for r in history], "C3--", label="discriminator")
    a2.set_ylabel("BCE"), a2.legend(fontsize=8, loc="upper right")
    for key in ("val_correlation", "val_top_iou", "val_box_f1"):
        b.plot(ep, [r[key] for r in history], label=key[4:])
    b.set_xlabel("epoch"), b.set_ylabel("validation crops vs teacher"), b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return Path(png)


def export_generator(checkpoint, dst, *, opset: int = 17) -> Path:
    """Export a checkpoint's generator to ONNX for ONNX Runtime (opset 17, the legacy TorchScript exporter).

    Input ``image`` ``(N, 3, 256, 256)`` float32 RGB in [0, 1], output
    ``heatmap`` ``(N, 1, 256, 256)`` in [0, 1]; the batch axis is dynamic.
    Batch norm uses its running statistics and dropout is off (eval mode).

    Parameters
    ----------
    checkpoint : path
        ``best.pt`` or ``last.pt`` of :func:`train_pix2pix`.
    dst : path
        Where to write the ``.onnx``.
    opset : int
        ONNX opset.

    Returns
    -------
    Path
        ``dst``.

    Examples
    --------
    >>> export_generator("runs/pix2pix/best.pt", "pix2pix-xai.onnx")  # doctest: +SKIP
    """
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    recipe = state["recipe"]
    gen = build_generator(recipe["ngf"], size=recipe["size"])
    gen.load_state_dict(state["generator"])
    gen.eval()
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 3, recipe["size"], recipe["size"])
    torch.onnx.export(gen, (x,), str(dst), input_names=["image"], output_names=["heatmap"],
                      dynamic_axes={"image": {0: "batch"}, "heatmap": {0: "batch"}}, opset_version=opset,
                      training=torch.onnx.TrainingMode.EVAL, dynamo=False)
    return dst


# --------------------------------------------------------------------------------------------- threshold, card

#: Heatmap thresholds tried by :func:`pick_threshold`.
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
#: Closing radii tried by ``dsodetect train pix2pix`` beside the teacher's: a student's heatmap is smoother than its
#: teacher's, so the radius that joins the teacher's fragments need not suit it.
CLOSES = (0, 16, 32, 48)


def pick_threshold(onnx_path, data_yaml, *, split: str = "val", teacher_cache=None, thresholds=THRESHOLDS,
                   min_area: int = 16, top: float = 0.1, close=0, trim=0.0) -> dict:
    """Best-F1 box stage of an exported generator on a held-out split (never on real-dev): heatmap threshold,
    closing radius and box trim, every box kept.

    Runs the model as ``--method pix2pix`` does (ONNX Runtime, the whole
    pipeline) once per image, then for each threshold boxes
    the same heatmaps with :func:`~dsodetect.postprocess.heatmap_boxes` and
    scores every box against the published labels with
    :func:`dsodetect.evaluation.evaluate` (IoU 0.5).

    Parameters
    ----------
    onnx_path : path
        The exported generator.
    data_yaml : path
        The split data set (:func:`dsodetect.train.data.prepare_data`).
    split : str
        Which split to use.
    teacher_cache : path, optional
        With it, also the mean :func:`heatmap_fidelity` of the stitched
        heatmaps against the teacher's (at the chosen threshold) and the
        teacher's seconds per image from its manifest.
    thresholds : sequence of float
        Heatmap thresholds tried.
    min_area : int
        Smallest region kept, pixels.
    top : float
        Top fraction for the fidelity IoU.
    close : int or sequence of int
        The closing radius of the box stage (the teacher's), or several
        tried with every threshold (the best pair wins).
    trim : float or sequence of float
        The box trim (:func:`~dsodetect.postprocess.heatmap_boxes`), or
        several tried with every threshold and closing.

    No box-score cut is chosen (``conf`` of the detector stays 0): on the
    held-out ids one raised F1 from 0.30 to 0.45, and on real-dev it gained
    nothing on tiles and lost a fifth of the F1 on mosaics (docs/pix2pix.md).

    Returns
    -------
    dict
        ``threshold``, ``close``, ``trim``, ``images``, ``P``, ``R``, ``F1``,
        ``mAP50`` at them, ``f1_by_threshold`` (at that ``close`` and
        ``trim``), ``f1_by_close`` and ``f1_by_trim`` (the best over the
        rest), ``seconds_per_image`` (the generator, all patches), and with
        ``teacher_cache`` ``fidelity`` and ``teacher_seconds_per_image``.

    Examples
    --------
    >>> pick_threshold("runs/pix2pix/pix2pix-xai.onnx", "runs/pix2pix-data/data.yaml")["threshold"]  # doctest: +SKIP
    """
    import cv2
    import yaml

    from ..dataset.yolo import read_labels
    from ..detectors.pix2pix import Pix2PixDetector
    from ..detectors.pix2pix.detector import DEFAULT_THRESHOLD
    from ..evaluation import evaluate
    from ..io import iter_image_paths, read_image
    from ..pipeline import process

    cfg = yaml.safe_load(Path(data_yaml).read_text())
    root = Path(cfg.get("path", Path(data_yaml).parent))
    images = sorted(iter_image_paths([root / cfg[split]]))
    closes = tuple(int(c) for c in np.atleast_1d(close))
    trims = tuple(float(r) for r in np.atleast_1d(trim))
    det = Pix2PixDetector(str(onnx_path), threshold=thresholds[0], min_area=min_area, close=closes[0],
                          trim=trims[0], conf=0.0)  # every box: no score cut is chosen (above)
    # The heatmap is made once per image and boxed at every grid point (the generator is the cost).
    memo = memoize_heatmap(det)
    cache = Path(teacher_cache) if teacher_cache is not None else None
    grid = [(c, r, t) for c in closes for r in trims for t in thresholds]
    pred = {k: {} for k in grid}
    pairs = []  # (image, student heatmap, teacher heatmap): fidelity is scored once the box stage is chosen
    truth, seconds = {}, []
    for p in images:
        img = read_image(p)
        h, w = img.shape
        memo.clear()
        for k in grid:
            det.close, det.trim, det.threshold = k
            t0 = time.perf_counter()
            res = process(img, det)
            if k == grid[0]:
                seconds.append(time.perf_counter() - t0)
            pred[k][p.stem] = res.detections
        npy = cache / f"{p.stem}.npy" if cache is not None else None
        if npy is not None and npy.is_file():
            t_heat = np.load(npy).astype(np.float32)
            heat = res.products["heatmap"].data
            if heat.shape != t_heat.shape:
                heat = cv2.resize(heat, (t_heat.shape[1], t_heat.shape[0]), interpolation=cv2.INTER_LINEAR)
            pairs.append((img, heat, t_heat))
        lab = root / "labels" / Path(cfg[split]).name / f"{p.stem}.txt"
        truth[p.stem] = read_labels(lab, w, h) if lab.is_file() else []
    by_k = {k: evaluate(pred[k], truth, iou=0.5) for k in grid}
    # Ties (e.g. no box right at all) go to the threshold nearest the detector's default, then the first closing
    # and trim.
    best = max(grid, key=lambda k: (by_k[k]["f1"], -abs(k[2] - DEFAULT_THRESHOLD), -closes.index(k[0]),
                                    -trims.index(k[1])))
    at = by_k[best]
    b_close, b_trim, b_thr = best
    out = {"threshold": float(b_thr), "close": b_close, "trim": b_trim, "images": len(images),
           "P": round(at["precision"], 4), "R": round(at["recall"], 4), "F1": round(at["f1"], 4),
           "mAP50": round(float(at["map50"]), 4),
           "f1_by_threshold": {str(t): round(by_k[b_close, b_trim, t]["f1"], 4) for t in thresholds},
           "f1_by_close": {str(c): round(max(by_k[c, r, t]["f1"] for r in trims for t in thresholds), 4)
                           for c in closes},
           "f1_by_trim": {str(r): round(max(by_k[c, r, t]["f1"] for c in closes for t in thresholds), 4)
                          for r in trims},
           "seconds_per_image": round(float(np.mean(seconds)), 4) if seconds else None}
    if cache is not None:
        rows = [heatmap_fidelity(heat, t_heat, top=top, image=img, threshold=b_thr, min_area=min_area,
                                 close=b_close, trim=b_trim) for img, heat, t_heat in pairs]
        out["fidelity"] = dict(_mean_fidelity(rows), images=len(rows), top=top)
        mpath = cache / MANIFEST
        if mpath.is_file():
            out["teacher_seconds_per_image"] = json.loads(mpath.read_text()).get("seconds_per_image")
    return out


def pix2pix_card(name: str, file: str, checkpoint, *, data: str, teacher: dict, wall_time: str,
                 val: dict | None = None, threshold: float | None = None):
    """The :class:`~dsodetect.models.ModelCard` of an exported pix2pix generator.

    Parameters
    ----------
    name, file : str
        Registry name and the ONNX file's name.
    checkpoint : path
        The checkpoint exported (recipe and history).
    data : str
        What it was trained on.
    teacher : dict
        The teacher's ``method``, ``model`` and ``options`` (:func:`teacher_info`
        or the cache manifest's ``teacher``).
    wall_time : str
        Training wall time and machine.
    val : dict, optional
        :func:`pick_threshold`'s result (its threshold is the card's).
    threshold : float, optional
        The heatmap threshold when ``val`` is not given (default the detector's, 0.3).

    Returns
    -------
    ModelCard
        Method ``pix2pix``; ``extra`` holds ``size`` (256), ``threshold``,
        ``close`` (chosen with the threshold, else the teacher's) and
        ``teacher``; the data licence is DeepSpaceYoloDataset's, inherited.
    """
    import torch

    from ..detectors.pix2pix.detector import DEFAULT_THRESHOLD
    from ..models import DATA_LICENCE, ModelCard

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    recipe, history = state["recipe"], state["history"]
    last = Path(checkpoint).with_name("last.pt")
    if last.is_file() and last != Path(checkpoint):  # best.pt's history ends at the best epoch, not the run's last
        history = torch.load(last, map_location="cpu", weights_only=False)["history"]
    best = min(history, key=lambda r: _rec(r, "val")) if history else {}
    thr = float(val["threshold"]) if val else float(threshold if threshold is not None else DEFAULT_THRESHOLD)
    model = teacher.get("model") or "?"
    scores = {"val_crops_vs_teacher": {k[4:]: round(v, 4) for k, v in best.items() if k.startswith("val_")}}
    if val:
        scores["val_source_ids"] = val
    return ModelCard(
        name=name, method="pix2pix", file=file, sha256="",
        summary=(f"pix2pix U-Net generator (ngf {recipe['ngf']}, {recipe['size']} px) trained to reproduce the "
                 f"{teacher.get('method', 'xai')} heatmap of {model}, ONNX (opset 17)"),
        data=(f"{data}: real smart-telescope tiles (DeepSpaceYoloDataset), split by source id; targets: the "
              "teacher's heatmaps"),
        data_licence=DATA_LICENCE,
        training=(f"dsodetect train pix2pix --data {data} --teacher {model} --ngf {recipe['ngf']} "
                  f"--epochs {recipe['epochs']} --loss {recipe.get('loss', 'l1')} --blur {recipe.get('blur', 0.0)}"),
        recipe=dict(recipe, epochs_done=len(history), best_epoch=best.get("epoch")),
        scores=scores, wall_time=wall_time, created=time.strftime("%Y-%m-%d"),
        extra={"size": recipe["size"], "threshold": thr, "teacher": teacher, "ngf": recipe["ngf"],
               "close": int(val["close"] if val and "close" in val
                            else teacher.get("options", {}).get("close") or 0),
               "trim": float(val.get("trim", 0.0)) if val else 0.0})
