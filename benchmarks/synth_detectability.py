"""Detectability vs integration time: the classical detector's F1 on synthetic stacks.

The same scenes are stacked 20 s ... 60 min (labels follow visibility, so a
faint object only counts once it is visible); the detector sees the app JPEG,
as users give it.

Usage::

    nice -n 10 .venv/bin/python benchmarks/synth_detectability.py --scenes 100 --workers 2

Writes docs/img/synth_detectability.png and prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
INTEGRATIONS = (20, 60, 300, 1200, 3600)


def _job(args):
    scene_i, t, method = args
    from dsodetect.detectors import get_detector
    from dsodetect.io import from_array
    from dsodetect.postprocess import clip_detections
    from dsodetect.synth.dataset import sample_config
    from dsodetect.synth.render import render_scene

    cfg = sample_config(scene_i, seed=2024)
    cfg["integration_s"] = float(t)
    s = render_scene(size=640, **cfg)
    img = from_array(s.jpeg.astype(np.float32) / 255.0, stretched=True, name=f"s{scene_i}_{t}")
    global _DET
    if "_DET" not in globals():
        _DET = get_detector(method)
    try:
        dets = clip_detections(_DET.detect(img), 640, 640)
    except Exception as exc:  # a detector bug costs this image, not the run
        return scene_i, t, s.labels, None, f"{type(exc).__name__}: {exc}"
    return scene_i, t, s.labels, dets, None


def _fmt(v):
    return f"{v:.2f}" if isinstance(v, (int, float)) else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--method", default="classical")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "synth_detectability.png"))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dsodetect.evaluation import evaluate

    jobs = [(i, t, args.method) for i in range(args.scenes) for t in INTEGRATIONS]
    with mp.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_job, jobs, chunksize=4)
    failed = [r for r in results if r[4]]
    if failed:
        print(f"detector failed on {len(failed)} image(s), counted as no detections; first: {failed[0][4]}")
    results = [(i, t, lab, d or []) for i, t, lab, d, _ in results]
    rows = []
    print(f"{len(results)} images ({args.scenes} scenes x {len(INTEGRATIONS)} integration times), method {args.method}")
    print("| integration | labelled objects | images with >=1 label | P | R | F1 | best-F1 (thr) |")
    print("|---|---|---|---|---|---|---|")
    for t in INTEGRATIONS:
        sub = [r for r in results if r[1] == t]
        truth = {f"{i}": lab for i, _, lab, _ in sub}
        pred = {f"{i}": d for i, _, _, d in sub}
        rep = evaluate(pred, truth)
        n_lab = sum(len(v) for v in truth.values())
        n_img = sum(bool(v) for v in truth.values())
        rows.append((t, rep["precision"], rep["recall"], rep["f1"], rep["best_f1"], n_lab))
        print(f"| {t} s | {n_lab} | {n_img} / {len(sub)} | {rep['precision']:.3f} | {rep['recall']:.3f} | "
              f"{rep['f1']:.3f} | {rep['best_f1']:.3f} ({_fmt(rep['best_threshold'])}) |")
    a = np.array(rows, float)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(a[:, 0], a[:, 3], "o-", label="F1")
    ax[0].plot(a[:, 0], a[:, 1], "s--", label="precision")
    ax[0].plot(a[:, 0], a[:, 2], "^--", label="recall")
    ax[0].plot(a[:, 0], a[:, 4], "k:", label="best-F1 (score threshold swept)")
    ax[0].set_xscale("log")
    ax[0].set_xlabel("integration time (s)")
    ax[0].set_ylim(0, 1)
    ax[0].set_title(f"{args.method} detector on synthetic app JPEGs (IoU 0.5)")
    ax[0].legend(fontsize=8)
    ax[1].plot(a[:, 0], a[:, 5], "o-", color="C3")
    ax[1].set_xscale("log")
    ax[1].set_xlabel("integration time (s)")
    ax[1].set_ylabel(f"visible (labelled) objects in {args.scenes} scenes")
    ax[1].set_title("labels follow visibility")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
