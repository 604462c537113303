"""Synthetic vs real app JPEGs on measured statistics; plots and a side-by-side mosaic.

Usage (reads ../shared/data, never copies it)::

    nice -n 10 .venv/bin/python benchmarks/synth_compare.py --n 300 --workers 2

Writes docs/img/synth_stats.png, docs/img/synth_mosaic.png (synthetic tiles only)
and prints percentile tables (markdown) for both sets. The side-by-side real vs
synthetic mosaic holds real pixels, which must not enter the repository (and the
data set's licence forbids derivatives): it goes to build/synth_mosaic_real.png
(git-ignored) for looking at locally.
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing as mp
import os
import random
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DSODETECT_SHARED", ROOT.parent / "shared")) / "data"


def _real_stats(path):
    import cv2

    from dsodetect.synth.stats import image_stats

    return image_stats(cv2.imread(path)[:, :, ::-1])


def _synth_stats(i):
    from dsodetect.synth.dataset import sample_config
    from dsodetect.synth.render import render_scene
    from dsodetect.synth.stats import image_stats

    cfg = sample_config(i, seed=12345)
    s = render_scene(size=640, **cfg)
    st = image_stats(s.jpeg)
    st["_boxes"] = [(d.width / 640, d.height / 640) for d in s.labels]
    return st


def label_stats(boxes_per_image):
    """Boxes per image (fractions with 0, 1, 2+) and box size percentiles (max side, area; frame units)."""
    n = np.array([len(b) for b in boxes_per_image])
    wh = np.array([b for bs in boxes_per_image for b in bs], float).reshape(-1, 2)
    side, area = wh.max(axis=1), wh.prod(axis=1)
    return ((n == 0).mean(), (n == 1).mean(), (n >= 2).mean(),
            np.percentile(side, [25, 50, 75]), np.percentile(area, [25, 50, 75]))


def real_label_boxes():
    from dsodetect.dataset import find_samples, parse_labels

    return [[(w, h) for _, _, _, w, h in parse_labels(s.label).boxes] if s.label else []
            for s in find_samples(SHARED / "real-train")]


def real_paths(n, seed=0):
    paths = sorted(glob.glob(str(SHARED / "real-train" / "images" / "*_0.jpg")))
    paths += sorted(glob.glob(str(SHARED / "real-unlabeled" / "*_0.jpg")))
    random.Random(seed).shuffle(paths)
    return paths[:n]


def mosaic(out, n=4, seed=1, real=True, cell=240):
    """Real (left half) vs synthetic (right half) tiles with their labels; synthetic only with ``real=False``."""
    import cv2

    from dsodetect.dataset import read_labels
    from dsodetect.synth.dataset import sample_config
    from dsodetect.synth.render import render_scene

    rng = random.Random(seed)
    lab = sorted(glob.glob(str(SHARED / "real-train" / "images" / "*_0.jpg")))
    rows = []
    for r in range(n):
        cells = []
        for p in rng.sample(lab, 2) if real else ():
            im = cv2.imread(p)
            for d in read_labels(Path(p.replace("/images/", "/labels/")[:-4] + ".txt"), im.shape[1], im.shape[0]):
                cv2.rectangle(im, (int(d.x0), int(d.y0)), (int(d.x1) - 1, int(d.y1) - 1), (0, 255, 0), 2)
            cells.append(cv2.resize(im, (cell, cell), interpolation=cv2.INTER_AREA))
        for k in range(2 if real else 4):
            s = render_scene(size=640, **sample_config(1000 + 4 * r + k + 10 * seed, seed=777))
            im = np.ascontiguousarray(s.jpeg[:, :, ::-1])
            for d in s.labels:
                cv2.rectangle(im, (int(d.x0), int(d.y0)), (int(d.x1) - 1, int(d.y1) - 1), (0, 255, 0), 2)
            cells.append(cv2.resize(im, (cell, cell), interpolation=cv2.INTER_AREA))
        if real:
            cells.insert(2, np.full((cell, 8, 3), 255, np.uint8))
        rows.append(np.hstack(cells))
    img = np.vstack(rows)
    head = np.zeros((36, img.shape[1], 3), np.uint8)
    if real:
        cv2.putText(head, "real (DeepSpaceYolo tiles)", (10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    text = "synthetic (dsodetect synth)" + ("" if real else ", random data-set scenes")
    cv2.putText(head, text, (2 * cell + 18 if real else 10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack([head, img]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dsodetect.synth.stats import STAT_NAMES

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with mp.get_context("fork").Pool(args.workers) as pool:
        real = pool.map(_real_stats, real_paths(args.n), chunksize=8)
        syn = pool.map(_synth_stats, range(args.n), chunksize=8)
    keys = list(STAT_NAMES)
    R = {k: np.array([s[k] for s in real], float) for k in keys}
    S = {k: np.array([s[k] for s in syn], float) for k in keys}
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    print("| statistic | real p10 / p50 / p90 | synthetic p10 / p50 / p90 | overlap |")
    print("|---|---|---|---|")
    for ax, k in zip(axes.ravel(), keys):
        r, s = R[k][np.isfinite(R[k])], S[k][np.isfinite(S[k])]
        lo, hi = np.percentile(np.r_[r, s], [1, 99])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
        hr, _ = np.histogram(np.clip(r, lo, hi), bins, density=True)
        hs, _ = np.histogram(np.clip(s, lo, hi), bins, density=True)
        ovl = float(np.minimum(hr, hs).sum() * (bins[1] - bins[0]))
        ax.hist(np.clip(r, lo, hi), bins, alpha=0.55, density=True, label=f"real (n={r.size})")
        ax.hist(np.clip(s, lo, hi), bins, alpha=0.55, density=True, label=f"synthetic (n={s.size})")
        ax.set_title(f"{STAT_NAMES[k]}\noverlap {ovl:.2f}", fontsize=10)
        pr, ps = np.percentile(r, [10, 50, 90]), np.percentile(s, [10, 50, 90])
        print(f"| {STAT_NAMES[k]} | {pr[0]:.3g} / {pr[1]:.3g} / {pr[2]:.3g} | "
              f"{ps[0]:.3g} / {ps[1]:.3g} / {ps[2]:.3g} | {ovl:.2f} |")
    print()
    print("| labels | images with 0 / 1 / 2+ boxes | box max side p25 / p50 / p75 | box area p25 / p50 / p75 |")
    print("|---|---|---|---|")
    for name, bx in (("real-train (584)", real_label_boxes()), (f"synthetic ({len(syn)})", [s["_boxes"] for s in syn])):
        z, one, more, side, area = label_stats(bx)
        print(f"| {name} | {z:.2f} / {one:.2f} / {more:.2f} | {side[0]:.3f} / {side[1]:.3f} / {side[2]:.3f} | "
              f"{area[0]:.4f} / {area[1]:.3f} / {area[2]:.3f} |")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Real smart-telescope tiles (real-train + real-unlabeled) vs synthetic, same measurements")
    fig.tight_layout()
    fig.savefig(out / "synth_stats.png", dpi=80)
    mosaic(out / "synth_mosaic.png", real=False)
    mosaic(ROOT / "build" / "synth_mosaic_real.png")  # real pixels: never into the repository
    print(f"wrote {out / 'synth_stats.png'}, {out / 'synth_mosaic.png'} and {ROOT / 'build' / 'synth_mosaic_real.png'}")


if __name__ == "__main__":
    main()
