"""Speed of the heatmap methods, in one run: XRAI per patch, empty-patch skipping on a full frame, pix2pix per patch.

1. Per 224 px patch (real-dev tiles cut into patches the classifier calls
   positive): the classifier alone (ONNX Runtime), XRAI (integrated gradients +
   regions), and, with ``--pix2pix``, the generator on the same patches (256 px
   input).
2. One full frame, the whole ``--method xai`` through the pipeline: XRAI only
   on the patches the classifier calls positive (the default) against XRAI on
   every patch (``presence=0``). ``--frame synthetic`` (default): the 3096x2080
   synthetic Stellina frame of ``bench_methods``; ``--frame mosaic``: the first
   3200x1920 mosaic of real-dev tiles (``fullframe_mosaics``: every tile holds
   an object, the densest case); ``--frame sparse``: a 3096x2080 frame of real
   sky as an EAA frame of one target is, one real-dev tile with its object in
   the middle and, around it, 224 px blocks of real-dev tiles that hold no
   part of a published box (stars, sky, no labelled object); or a path.
   ``--skip-every`` leaves the slow second run out.

    python benchmarks/xai_speed.py [--model xai-classifier] [--pix2pix pix2pix-xai] [--patches 12]
        [--frame synthetic|mosaic|sparse|PATH] [--skip-every]

Needs torch + saliency (the train extra) and ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _patches(det, data: Path, n: int):
    """Up to ``n`` positive 224 px patches from the real-dev tiles (a 3 x 3 grid per tile)."""
    from dsodetect.io import read_image

    out = []
    for p in sorted((data / "images").glob("*.jpg")):
        rgb = np.asarray(read_image(p).display(), np.float32)
        h, w = rgb.shape[:2]
        for y in np.linspace(0, h - 224, 3).astype(int):
            for x in np.linspace(0, w - 224, 3).astype(int):
                patch = rgb[y:y + 224, x:x + 224]
                if det.classify(patch[None])[0] >= det.presence:
                    out.append(patch)
        if len(out) >= n:
            break
    return out[:n]


def per_patch(model: str, pix2pix: str | None, data: Path, n: int) -> dict:
    import cv2

    from dsodetect.detectors.xai import XaiDetector

    det = XaiDetector(model)
    patches = _patches(det, data, n)
    det.attribution(patches[0])  # warm-up: torch network rebuilt, first-call costs
    t = time.perf_counter()
    for p in patches:
        det.classify(p[None])
    classify = (time.perf_counter() - t) / len(patches)
    t = time.perf_counter()
    for p in patches:
        det.attribution(p)
    xrai = (time.perf_counter() - t) / len(patches)
    out = {"patches": len(patches), "classify_s": round(classify, 4), "xrai_s": round(xrai, 3),
           "xrai_steps": det.steps, "baseline": det.baseline}
    if pix2pix:
        from dsodetect.detectors.pix2pix import Pix2PixDetector
        from dsodetect.io import Image

        gen = Pix2PixDetector(pix2pix)
        imgs = [Image(cv2.resize(p, (256, 256)), stretched=True) for p in patches]
        gen.detect(imgs[0])
        t = time.perf_counter()
        for im in imgs:
            gen.detect(im)
        p2p = (time.perf_counter() - t) / len(imgs)
        out.update(pix2pix_s=round(p2p, 4), xrai_over_pix2pix=round(xrai / p2p, 1))
    return out


def sparse_frame(data: Path, dst: Path, *, size=(3096, 2080), block: int = 224, seed: int = 0) -> Path:
    """A frame of real sky with one object: a real-dev tile in the middle, empty-sky blocks around it (a JPEG)."""
    import cv2

    from dsodetect.dataset.yolo import read_labels

    rng = np.random.default_rng(seed)
    tiles = sorted((data / "images").glob("*.jpg"))
    sky = []  # blocks that touch no published box, however little
    for p in tiles:
        img = cv2.imread(str(p))
        if img is None:
            continue
        h, w = img.shape[:2]
        lab = data / "labels" / f"{p.stem}.txt"
        boxes = read_labels(lab, w, h) if lab.exists() else []
        for y in range(0, h - block + 1, block):
            for x in range(0, w - block + 1, block):
                if all(d.x1 <= x or d.x0 >= x + block or d.y1 <= y or d.y0 >= y + block for d in boxes) \
                        and img[y:y + block, x:x + block].min(axis=2).mean() > 2:  # not a black wedge
                    sky.append(img[y:y + block, x:x + block])
    if not sky:
        raise ValueError(f"{data}: no empty-sky block found")
    W, H = size
    frame = np.zeros((H, W, 3), np.uint8)
    for y in range(0, H, block):
        for x in range(0, W, block):
            b = sky[rng.integers(len(sky))]
            frame[y:y + block, x:x + block] = b[:H - y, :W - x]
    target = cv2.imread(str(tiles[rng.integers(len(tiles))]))
    th, tw = target.shape[:2]
    y0, x0 = (H - th) // 2, (W - tw) // 2
    frame[y0:y0 + th, x0:x0 + tw] = target
    path = dst / f"sparse_{W}x{H}.jpg"
    cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def _frame(which: str, data: Path, tmp: Path) -> Path:
    """The frame to time: the synthetic Stellina frame, the first real-dev mosaic, the sparse frame or a file."""
    if which == "synthetic":
        from bench_methods import make_full_frame

        frame = tmp / "frame_3096x2080.fits"
        make_full_frame(frame)
        return frame
    if which == "mosaic":
        from fullframe_mosaics import build_mosaics

        return build_mosaics(data, tmp)[0]
    if which == "sparse":
        return sparse_frame(data, tmp)
    return Path(which)


def full_frame(model: str, every: bool, frame: Path) -> dict:
    from dsodetect.detectors.xai import XaiDetector
    from dsodetect.io import read_image
    from dsodetect.pipeline import process

    img = read_image(frame)
    out = {"frame": f"{frame.name} {img.shape[1]}x{img.shape[0]}"}
    # Import torch, saliency and scikit-image before either timed run (6-7 s, once a process): otherwise the first
    # run pays it and the second does not.
    XaiDetector(model).attribution(np.zeros((224, 224, 3), np.float32))
    runs = [("skip_empty", {})] + ([("every_patch", {"presence": 0.0})] if every else [])
    for key, opts in runs:
        det = XaiDetector(model, **opts)
        calls = {"n": 0}
        explain = det.attribution

        def counted(patch, _f=explain):
            calls["n"] += 1
            return _f(patch)

        det.attribution = counted
        t = time.perf_counter()
        res = process(img, det)
        out[key] = {"seconds": round(time.perf_counter() - t, 1), "patches_explained": calls["n"],
                    "boxes": len(res.detections)}
        print(key, out[key], flush=True)
    if every:
        out["speed_up"] = round(out["every_patch"]["seconds"] / out["skip_empty"]["seconds"], 1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="xai-classifier")
    ap.add_argument("--pix2pix", default=None, help="pix2pix model name or .onnx to time on the same patches")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--patches", type=int, default=12)
    ap.add_argument("--frame", default="synthetic",
                    help="synthetic | mosaic (real-dev tiles) | sparse (real sky, one real-dev tile) | an image path")
    ap.add_argument("--skip-every", action="store_true", help="leave out XRAI on every patch of the frame")
    ap.add_argument("--no-frame", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    res = {"per_patch": per_patch(a.model, a.pix2pix, a.data, a.patches)} if a.patches else {}
    print(json.dumps(res.get("per_patch")), flush=True)
    if not a.no_frame:
        with tempfile.TemporaryDirectory() as tmp:
            res["full_frame"] = full_frame(a.model, not a.skip_every, _frame(a.frame, a.data, Path(tmp)))
    print(json.dumps(res, indent=1))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
