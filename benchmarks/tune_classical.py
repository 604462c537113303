"""Tune and score the classical detector on the real data sets.

The detector runs in two stages: the expensive one (star removal and the
diffuse significance maps) and the cheap one (candidate boxes -> scores ->
selection). ``cache`` runs the expensive stage once per image and stores the
maps and the extended-source catalogue; ``sweep`` scores box-stage parameter
sets on the cache (5-fold cross-validation by source id, the scorer refitted
in each fold); ``fit`` fits the candidate scorer (``--final --write``: on all
of real-train, ``min_score`` from the CV, written to the package's
``scorer_model.json.gz``);
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
import os
import sys
import time
import zlib
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dsodetect.detection import Detection  # noqa: E402
from dsodetect.detectors.classical import ClassicalDetector, ClassicalParams  # noqa: E402
from dsodetect.detectors.classical.diffuse import DiffuseMaps  # noqa: E402
from dsodetect.evaluation import match_image, prf, threshold_sweep  # noqa: E402
from dsodetect.detection import boxes_array  # noqa: E402
from dsodetect.io import read_image  # noqa: E402
from dsodetect.outputs import read_yolo  # noqa: E402

DATA = Path(os.environ.get("DSODETECT_DATA", ROOT.parent / "shared" / "data"))
CACHE = Path(os.environ.get("CLASSICAL_CACHE", "/tmp/dsodetect-classical-cache"))


# ----------------------------------------------------------------------- data
def source_id(stem: str) -> str:
    return stem.split("_")[0]


def fold_index(stem: str, folds: int = 5) -> int:
    """Cross-validation fold of an image: by source id, so both copies of a tile share it."""
    return zlib.crc32(source_id(stem).encode()) % folds


def fold_of(stem: str) -> str:
    return "val" if fold_index(stem) == 0 else "fit"


def load_split(split: str, fold: str = "all"):
    """``[(stem, image_path, truth_boxes_px (N,4), (h, w))]`` for a data folder."""
    from PIL import Image as PILImage

    folder = DATA / split
    items = []
    for img in sorted((folder / "images").glob("*.jpg")):
        stem = img.stem
        if fold != "all" and fold_of(stem) != fold:
            continue
        with PILImage.open(img) as im:
            w, h = im.size
        lab = folder / "labels" / f"{stem}.txt"
        truth = boxes_array(read_yolo(lab, w, h)) if lab.exists() else np.zeros((0, 4))
        items.append((stem, img, truth, (h, w)))
    return items


def score(preds: dict, items, min_score: float | None = None) -> dict:
    """Pooled P/R/F1 (greedy by score at IoU 0.5) + the best-F1 threshold."""
    matches = []
    for stem, _, truth, _ in items:
        p = preds.get(stem, [])
        matches.append(match_image(boxes_array(p), np.array([d.score for d in p]), truth, 0.5))
    thr = -np.inf if min_score is None else min_score
    tp = fp = fn = 0
    for m in matches:
        a, b, c = m.counts(thr)
        tp, fp, fn = tp + a, fp + b, fn + c
    p, r, f = prf(tp, fp, fn)
    sw = threshold_sweep(matches)
    return {"P": p, "R": r, "F1": f, "tp": tp, "fp": fp, "fn": fn,
            "best_thr": sw["best_threshold"], "best_F1": sw["best_f1"],
            "best_P": sw["best_precision"], "best_R": sw["best_recall"]}


# ---------------------------------------------------------------------- cache
def _stage_a(args):
    stem, path, out, overrides = args
    if out.exists():
        return stem
    det = ClassicalDetector(**overrides)
    image = read_image(path)
    work, nodata, f = det.prepare(image)
    cat, smask, starless = det.remove_stars(work, nodata, f)
    maps, map_per_work = det.diffuse(starless, nodata, f)
    ext = ~cat.is_star if len(cat) else np.zeros(0, bool)
    catalog = {f"cat_{k}": getattr(cat, k)[ext] for k in
               ("x", "y", "flux", "peak", "r50", "r_foot", "saturated")} if len(cat) else {}
    np.savez_compressed(out, valid=maps.valid, map_to_input=1.0 / (map_per_work * f),
                        shape=np.array(image.shape), names=np.array(list(maps.sig)),
                        work_scale=f, r50_psf=cat.r50_psf, rms=cat.rms, n_sources=len(cat),
                        n_stars=int(cat.is_star.sum()) if len(cat) else 0, **catalog,
                        **{f"sig_{k}": v.astype(np.float16) for k, v in maps.sig.items()})
    return stem


CACHE_VERSION = 3  # bump when the expensive stage changes


def cache_dir(split: str, overrides: dict) -> Path:
    key = json.dumps(overrides, sort_keys=True) + f"/v{CACHE_VERSION}"
    return CACHE / f"{split}-{zlib.crc32(key.encode()):08x}"


def build_cache(split: str, overrides: dict, jobs: int = 2) -> Path:
    d = cache_dir(split, overrides)
    d.mkdir(parents=True, exist_ok=True)
    (d / "params.json").write_text(json.dumps(overrides, sort_keys=True))
    items = load_split(split)
    tasks = [(stem, path, d / f"{stem}.npz", overrides) for stem, path, _, _ in items]
    t0 = time.time()
    with Pool(jobs) as pool:
        for i, _ in enumerate(pool.imap_unordered(_stage_a, tasks, chunksize=4)):
            if (i + 1) % 100 == 0:
                print(f"  {i + 1}/{len(tasks)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    return d


def load_cache(d: Path, items):
    out = {}
    for stem, *_ in items:
        z = np.load(d / f"{stem}.npz")
        sig = {str(n): z[f"sig_{n}"].astype(np.float32) for n in z["names"]}
        entry = {"maps": DiffuseMaps(sig=sig, valid=z["valid"]), "m2i": float(z["map_to_input"]),
                 "shape": tuple(int(v) for v in z["shape"])}
        for k in ("work_scale", "r50_psf", "rms", "n_sources", "n_stars"):
            if k in z:
                entry[k] = float(z[k])
        entry["cat"] = {k[4:]: z[k] for k in z.files if k.startswith("cat_")}
        out[stem] = entry
    return out


# ----------------------------------------------------------------- candidates
from dsodetect.detectors.classical.candidates import select  # noqa: E402
from dsodetect.detectors.classical.stars import StarCatalog  # noqa: E402
from dsodetect.detectors.classical.scorer import (MODEL_PATH, SEEDS,  # noqa: E402
                                                  CandidateScorer, feature_matrix, fit_scorer)
from dsodetect.postprocess import box_iou  # noqa: E402


def candidates_for(e, p: ClassicalParams):
    """The detector's candidates of one cached image, with their features (unscored)."""
    cat = e["cat"]
    zero = np.zeros(0)
    ext = StarCatalog(*(cat.get(k, zero) for k in ("x", "y", "flux", "peak", "r50", "r_foot")),
                      saturated=cat.get("saturated", zero).astype(bool),
                      is_star=np.zeros(len(cat.get("x", zero)), bool), r50_psf=e["r50_psf"], rms=e["rms"])
    return ClassicalDetector(params=p).candidates(e["maps"], e["m2i"], e["work_scale"], e["shape"],
                                                  ext, int(e.get("n_stars", 0)))


def best_iou(cands, truth):
    """Each candidate's highest IoU with a true box (0 without truth)."""
    if not cands or len(truth) == 0:
        return np.zeros(len(cands))
    return box_iou(np.array([c.box for c in cands]), truth).max(axis=1)


def image_rows(cached, items, p: ClassicalParams):
    """``{stem: (candidates, feature matrix, best IoU)}`` for every image."""
    rows = {}
    for stem, _, truth, _ in items:
        cands = candidates_for(cached[stem], p)
        rows[stem] = (cands, feature_matrix(cands), best_iou(cands, truth))
    return rows


def predict(rows, items, p: ClassicalParams, scorer: CandidateScorer):
    preds = {}
    for stem, *_ in items:
        cands = scorer(rows[stem][0])
        kept = select(cands, min_score=0.0, max_boxes=p.max_boxes, overlap=p.select_overlap)
        preds[stem] = [Detection(*c.box, score=c.score, extras={"kind": c.kind}) for c in kept]
    return preds


def fit_on(rows, items, seeds=SEEDS):
    return fit_scorer([rows[s][1] for s, *_ in items], [rows[s][2] for s, *_ in items], seeds=seeds)


def cross_validate(rows, items, p: ClassicalParams, folds=5, seeds=SEEDS):
    """Out-of-fold predictions: fit on 4/5 of the source ids, predict the rest."""
    oof = {}
    for k in range(folds):
        tr = [it for it in items if fold_index(it[0], folds) != k]
        te = [it for it in items if fold_index(it[0], folds) == k]
        oof.update(predict(rows, te, p, CandidateScorer(fit_on(rows, tr, seeds))))
    return oof


def run_fit(split, p: ClassicalParams, final=False, seeds=SEEDS):
    """Fit the scorer. ``final``: on all of ``split`` (5-fold CV by id picks min_score)."""
    items_fit = load_split(split, "fit")
    items_val = load_split(split, "val")
    items_all = items_fit + items_val
    cached = load_cache(cache_dir(split, {}), items_all)
    rows = image_rows(cached, items_all, p)
    if not final:
        model = fit_on(rows, items_fit, seeds)
        scorer = CandidateScorer(model)
        for name, items in (("fit", items_fit), ("val", items_val)):
            res = score(predict(rows, items, p, scorer), items)
            print(f"{name}: best F1 {res['best_F1']:.3f} @ {res['best_thr']:.3f} "
                  f"(P {res['best_P']:.3f} R {res['best_R']:.3f}); F1@0 {res['F1']:.3f}")
        return model
    oof = cross_validate(rows, items_all, p, seeds=seeds)
    cv = score(oof, items_all)
    thr = round(cv["best_thr"], 2)
    cvt = score(oof, items_all, min_score=thr)
    print(f"5-fold CV by id ({len(items_all)} images): best F1 {cv['best_F1']:.3f} @ {cv['best_thr']:.3f} "
          f"-> min_score {thr}: P {cvt['P']:.3f} R {cvt['R']:.3f} F1 {cvt['F1']:.3f} "
          f"(TP {cvt['tp']} FP {cvt['fp']} FN {cvt['fn']})")
    model = fit_on(rows, items_all, seeds)
    res = score(predict(rows, items_all, p, CandidateScorer(model)), items_all, min_score=thr)
    print(f"  fitted on all, in-sample at min_score {thr}: P {res['P']:.3f} R {res['R']:.3f} "
          f"F1 {res['F1']:.3f}")
    model.update(min_score=thr, trained_on=f"{split} ({len(items_all)} images, "
                 f"{sum(len(r[0]) for r in rows.values())} candidates)",
                 cv={k: round(float(cvt[k]), 4) for k in ("P", "R", "F1")}, seeds=list(seeds),
                 fitted=time.strftime("%Y-%m-%d"))
    return model


# ---------------------------------------------------------------------- sweep
GRID = {
    "levels": [[0.05, 0.1, 0.2, 0.35, 0.5, 0.7], [0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8]],
    "margin": [0.0, 0.08],
    "merge_gap": [0.05, 0.15],
}


def sweep(split, grid, base: ClassicalParams):
    """5-fold CV (by source id) F1 of the box stage for every combination in ``grid``."""
    items = load_split(split)
    cached = load_cache(cache_dir(split, {}), items)
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
    ap.add_argument("--write", action="store_true",
                    help="fit: store the model in the package (scorer_model.json.gz)")
    a = ap.parse_args(argv)
    overrides = {}
    for s in a.set:
        k, v = s.split("=", 1)
        overrides[k] = json.loads(v)
    if a.command == "cache":
        d = build_cache(a.split, overrides, a.jobs)
        print(f"cache: {d}")
    elif a.command == "sweep":
        grid = json.loads(a.grid) if a.grid else GRID
        sweep(a.split, grid, ClassicalParams().updated(**overrides))
    elif a.command == "fit":
        p = ClassicalParams().updated(**overrides)
        model = run_fit(a.split, p, final=a.final)
        if a.write:
            CandidateScorer.save(model, MODEL_PATH)
            print(f"model written to {MODEL_PATH} ({MODEL_PATH.stat().st_size / 1e3:.0f} kB)")
    else:
        run_eval(a.split, a.fold, overrides, a.jobs, a.sheet, a.pred_dir)


if __name__ == "__main__":
    main()
