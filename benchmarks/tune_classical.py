"""Tune and score the classical detector on the real data sets.

The detector runs in two stages: the expensive one (star removal and the
diffuse significance maps) and the cheap one (candidate boxes -> scores ->
selection). ``cache`` runs the expensive stage once per image and stores the
maps and the extended-source catalogue; ``sweep`` scores box-stage parameter
sets on the cache (5-fold cross-validation by source id, the scorer refitted
in each fold); ``fit`` fits the candidate scorer -- that is
``dsodetect train classical`` (:mod:`dsodetect.train.classical`), kept
here for the split names;
``eval`` runs the whole detector with its defaults (what the CLI does) and
scores it: greedy one-to-one matching by score at IoU >= 0.5, pooled P/R/F1
(:mod:`dsodetect.evaluation`).

Folds split real-train by source id (the ``<id>`` before ``_``), since both
copies of a source show the same field: ``crc32(id) % 5``. ``--fold val`` is
fold 0 and ``--fold fit`` the rest. Tune on real-train only, and look at
real-dev once the parameters are fixed.

Examples::

    python benchmarks/tune_classical.py cache --split real-train
    python benchmarks/tune_classical.py sweep --split real-train
    python benchmarks/tune_classical.py fit --split real-train --final --write
    python benchmarks/tune_classical.py eval --split real-train
    python benchmarks/tune_classical.py eval --split real-dev --sheet /tmp/classical_dev.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dsodetect.detection import Detection  # noqa: E402
from dsodetect.detectors.classical import ClassicalDetector, ClassicalParams  # noqa: E402
from dsodetect.io import read_image  # noqa: E402
from dsodetect.train import classical as tc  # noqa: E402
from dsodetect.train.classical import (build_cache, cache_dir, cross_validate, image_rows,  # noqa: E402
                                       load_cache, score)

DATA = Path(os.environ.get("DSODETECT_DATA", ROOT.parent / "shared" / "data"))


def load_split(split: str, fold: str = "all"):
    return tc.load_split(DATA / split, fold)


# ---------------------------------------------------------------------- sweep
GRID = {
    "levels": [[0.05, 0.1, 0.2, 0.35, 0.5, 0.7], [0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8]],
    "margin": [0.0, 0.08],
    "merge_gap": [0.05, 0.15],
}


def sweep(split, grid, base: ClassicalParams):
    """5-fold CV (by source id) F1 of the box stage for every combination in ``grid``."""
    items = load_split(split)
    cached = load_cache(cache_dir(DATA / split, {}), items)
    keys = list(grid)
    results = []
    for values in itertools.product(*(grid[k] for k in keys)):
        kv = {k: tuple(v) if isinstance(v, list) else v for k, v in zip(keys, values)}
        p = base.updated(**kv)
        res = score(cross_validate(image_rows(cached, items, p), items, p, seeds=(0,)), items)
        results.append((res["best_F1"], kv, res))
        print(f"CV F1 {res['best_F1']:.3f} @ {res['best_thr']:.2f} (P {res['best_P']:.3f} "
              f"R {res['best_R']:.3f})  {kv}", flush=True)
    return sorted(results, key=lambda r: -r[0])


# ----------------------------------------------------------------------- eval
_WORKER_DETECTOR = None


def _init_worker(overrides):
    """One detector per worker process: its scorer model loads once, not per image."""
    global _WORKER_DETECTOR
    _WORKER_DETECTOR = ClassicalDetector(**overrides)
    _WORKER_DETECTOR.scorer  # noqa: B018 - load now, outside the timed detections


def _detect_one(args):
    stem, path = args
    t0 = time.perf_counter()
    dets = _WORKER_DETECTOR.detect(read_image(path))
    return stem, [(d.x0, d.y0, d.x1, d.y1, d.score) for d in dets], time.perf_counter() - t0


def run_eval(split, fold="all", overrides=None, jobs=2, sheet=None, pred_dir=None):
    overrides = overrides or {}
    items = load_split(split, fold)
    tasks = [(stem, path) for stem, path, _, _ in items]
    preds, times = {}, []
    with Pool(jobs, initializer=_init_worker, initargs=(overrides,)) as pool:
        for stem, boxes, dt in pool.imap_unordered(_detect_one, tasks, chunksize=4):
            preds[stem] = [Detection(*b[:4], score=b[4]) for b in boxes]
            times.append(dt)
    res = score(preds, items, min_score=ClassicalDetector(**overrides).min_score)
    print(f"{split}/{fold}: {len(items)} images, {sum(len(t) for _, _, t, _ in items)} truth boxes, "
          f"{sum(len(v) for v in preds.values())} predictions, median {np.median(times):.2f} s/image")
    print(f"  at the default min_score: P {res['P']:.3f} R {res['R']:.3f} F1 {res['F1']:.3f} "
          f"(TP {res['tp']} FP {res['fp']} FN {res['fn']})")
    print(f"  best threshold {res['best_thr']:.3f}: P {res['best_P']:.3f} R {res['best_R']:.3f} "
          f"F1 {res['best_F1']:.3f}")
    if pred_dir:
        pred_dir = Path(pred_dir)
        pred_dir.mkdir(parents=True, exist_ok=True)
        for stem, dets in preds.items():
            (pred_dir / f"{stem}.txt").write_text(
                "".join(f"{d.x0:.1f} {d.y0:.1f} {d.x1:.1f} {d.y1:.1f} {d.score:.4f}\n" for d in dets))
    if sheet:
        contact_sheet(items, preds, sheet)
        print(f"  contact sheet: {sheet}")
    return res, preds


def contact_sheet(items, preds, path, cols=8, size=240):
    """Truth (green) and predictions (red, with score) on every image."""
    import cv2

    tiles = []
    for stem, img_path, truth, _ in items:
        im = cv2.imread(str(img_path))
        h, w = im.shape[:2]
        for b in truth:
            cv2.rectangle(im, (int(b[0]), int(b[1])), (int(b[2]) - 1, int(b[3]) - 1), (0, 255, 0), 3)
        for d in preds.get(stem, []):
            cv2.rectangle(im, (int(d.x0), int(d.y0)), (int(d.x1) - 1, int(d.y1) - 1), (0, 0, 255), 2)
            cv2.putText(im, f"{d.score:.2f}", (int(d.x0) + 4, int(d.y0) + 22), cv2.FONT_HERSHEY_SIMPLEX,
                        0.8, (0, 0, 255), 2)
        cv2.putText(im, stem, (6, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 0), 2)
        tiles.append(cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA))
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.zeros((rows * size, cols * size, 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = t
    cv2.imwrite(str(path), sheet)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["cache", "sweep", "fit", "eval"])
    ap.add_argument("--split", default="real-train")
    ap.add_argument("--fold", default="all", choices=["all", "fit", "val"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a ClassicalParams field (JSON value)")
    ap.add_argument("--grid", help="JSON dict of field -> list of values (sweep)")
    ap.add_argument("--sheet", help="write a contact sheet PNG here (eval)")
    ap.add_argument("--pred-dir", help="write x0 y0 x1 y1 score per image here (eval)")
    ap.add_argument("--final", action="store_true",
                    help="fit: on all of the split, min_score from 5-fold CV by source id")
    a = ap.parse_args(argv)
    overrides = {}
    for s in a.set:
        k, v = s.split("=", 1)
        overrides[k] = json.loads(v)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.command == "cache":
        d = build_cache(DATA / a.split, overrides, a.jobs)
        print(f"cache: {d}")
    elif a.command == "sweep":
        grid = json.loads(a.grid) if a.grid else GRID
        sweep(a.split, grid, ClassicalParams().updated(**overrides))
    elif a.command == "fit":
        tc.run_fit(DATA / a.split, ClassicalParams().updated(**overrides), final=a.final, jobs=a.jobs)
        print("to write a model: dsodetect train classical --data <folder> --final")
    else:
        run_eval(a.split, a.fold, overrides, a.jobs, a.sheet, a.pred_dir)


if __name__ == "__main__":
    main()
