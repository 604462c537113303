"""Tune and score the classical detector on the real data sets.

The detector runs in two stages: the expensive one (star removal and the
diffuse significance maps) and the cheap one (candidate boxes -> scores ->
selection). ``cache`` runs the expensive stage once per image and stores the
maps and the extended-source catalogue; ``sweep`` scores box-stage parameter
sets on the cache (5-fold cross-validation by source id, the scorer refitted
in each fold); ``fit`` fits the candidate scorer (``--final --write``: on all
of real-train, ``min_score`` from the CV, written to ``_coefficients.py``);
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

DATA = Path(os.environ.get("DSODETECT_DATA", ROOT.parent / "shared" / "data"))
CACHE = Path(os.environ.get("CLASSICAL_CACHE", "/tmp/dsodetect-classical-cache"))


# ----------------------------------------------------------------------- data
def source_id(stem: str) -> str:
    return stem.split("_")[0]


def fold_of(stem: str) -> str:
    return "val" if zlib.crc32(source_id(stem).encode()) % 5 == 0 else "fit"


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
        boxes = []
        lab = folder / "labels" / f"{stem}.txt"
        if lab.exists():
            for line in lab.read_text().split("\n"):
                p = line.split()
                if len(p) >= 5:
                    xc, yc, bw, bh = (float(v) for v in p[1:5])
                    boxes.append([(xc - bw / 2) * w, (yc - bh / 2) * h, (xc + bw / 2) * w, (yc + bh / 2) * h])
        items.append((stem, img, np.array(boxes, dtype=np.float64).reshape(-1, 4), (h, w)))
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
from dsodetect.detectors.classical.candidates import (FEATURES, compact_candidates,  # noqa: E402
                                                      diffuse_candidates, feature_matrix,
                                                      frame_candidate, image_features,
                                                      score_candidates, select)
from dsodetect.postprocess import box_iou  # noqa: E402


def candidates_for(e, p: ClassicalParams):
    img = image_features(e["maps"], int(e.get("n_stars", 0)))
    c = diffuse_candidates(e["maps"], e["m2i"], e["shape"], img, levels=p.levels, low=p.low,
                           high=p.high, min_area=p.min_area, close=p.close, margin=p.margin,
                           margin_px=p.margin_px, merge_gap=p.merge_gap, signals=p.cand_signals,
                           unions=p.unions)
    cat = e["cat"]
    if cat and len(cat.get("x", [])):
        c += compact_candidates(cat["x"], cat["y"], cat["peak"], cat["r50"], cat["r_foot"],
                                cat["saturated"], rms=e["rms"], r50_psf=e["r50_psf"],
                                work_scale=e["work_scale"], shape=e["shape"], img=img,
                                min_snr=p.compact_min_snr, box_scales=p.compact_box_scales,
                                pad=p.compact_pad, max_n=p.compact_max)
    c += frame_candidate(e["maps"], e["m2i"], e["shape"], img)
    return c


def label(cands, truth):
    if not cands or len(truth) == 0:
        return np.zeros(len(cands), bool)
    b = np.array([c.box for c in cands])
    return box_iou(b, truth).max(axis=1) >= 0.5


def fit_logistic(X, y, l2=1.0, iters=50):
    """L2-regularised logistic regression by Newton's method on standardised features."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    Z = np.column_stack([np.ones(len(X)), (X - mean) / scale])
    w = np.zeros(Z.shape[1])
    w[0] = np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))
    reg = l2 * np.eye(Z.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        pr = 1 / (1 + np.exp(-Z @ w))
        g = Z.T @ (pr - y) + reg @ w
        Hs = (Z * (pr * (1 - pr))[:, None]).T @ Z + reg
        step = np.linalg.solve(Hs, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "w": w[1:].tolist(), "b": float(w[0])}


def fit_scorer(cached, items, p: ClassicalParams, l2=3.0):
    per_kind = {k: ([], []) for k in FEATURES}
    for stem, _, truth, _ in items:
        cands = candidates_for(cached[stem], p)
        y = label(cands, truth)
        for kind in FEATURES:
            idx = [i for i, c in enumerate(cands) if c.kind == kind]
            if idx:
                per_kind[kind][0].append(feature_matrix([cands[i] for i in idx], kind))
                per_kind[kind][1].append(y[idx])
    coef = {}
    for kind, (Xs, ys) in per_kind.items():
        if not Xs:
            continue
        X, y = np.vstack(Xs), np.concatenate(ys).astype(float)
        if y.sum() < 3:
            continue
        coef[kind] = fit_logistic(X, y, l2)
        coef[kind]["n"] = int(len(y))
        coef[kind]["pos"] = int(y.sum())
    return coef


def predict_candidates(cached, items, p: ClassicalParams, coef):
    preds = {}
    for stem, *_ in items:
        cands = score_candidates(candidates_for(cached[stem], p), coef)
        kept = select(cands, min_score=0.0, max_boxes=p.max_boxes, overlap=p.select_overlap)
        preds[stem] = [Detection(*c.box, score=c.score, extras={"kind": c.kind}) for c in kept]
    return preds


def cross_validate(cached, items, p: ClassicalParams, l2=3.0, folds=5):
    """Out-of-fold predictions: fit on 4/5 of the source ids, predict the rest."""
    oof = {}
    for k in range(folds):
        tr = [it for it in items if zlib.crc32(source_id(it[0]).encode()) % folds != k]
        te = [it for it in items if zlib.crc32(source_id(it[0]).encode()) % folds == k]
        oof.update(predict_candidates(cached, te, p, fit_scorer(cached, tr, p, l2)))
    return oof


def run_fit(split, p: ClassicalParams, l2=3.0, final=False):
    """Fit the scorer. ``final``: on all of ``split`` (5-fold CV by id picks min_score)."""
    items_fit = load_split(split, "fit")
    items_val = load_split(split, "val")
    items_all = items_fit + items_val
    cached = load_cache(cache_dir(split, {}), items_all)
    if not final:
        coef = fit_scorer(cached, items_fit, p, l2)
        for name, items in (("fit", items_fit), ("val", items_val)):
            res = score(predict_candidates(cached, items, p, coef), items)
            print(f"{name}: best F1 {res['best_F1']:.3f} @ {res['best_thr']:.3f} "
                  f"(P {res['best_P']:.3f} R {res['best_R']:.3f}); F1@0 {res['F1']:.3f}")
        return coef, None
    cv = score(cross_validate(cached, items_all, p, l2), items_all)
    thr = round(cv["best_thr"], 2)
    print(f"5-fold CV by id ({len(items_all)} images): best F1 {cv['best_F1']:.3f} @ {cv['best_thr']:.3f} "
          f"(P {cv['best_P']:.3f} R {cv['best_R']:.3f}) -> min_score {thr}")
    cvt = score(cross_validate(cached, items_all, p, l2), items_all, min_score=thr)
    print(f"  CV at min_score {thr}: P {cvt['P']:.3f} R {cvt['R']:.3f} F1 {cvt['F1']:.3f}")
    coef = fit_scorer(cached, items_all, p, l2)
    res = score(predict_candidates(cached, items_all, p, coef), items_all, min_score=thr)
    print(f"  fitted on all, in-sample at min_score {thr}: P {res['P']:.3f} R {res['R']:.3f} "
          f"F1 {res['F1']:.3f}")
    return coef, thr


# ---------------------------------------------------------------------- sweep
GRID = {
    "levels": [[0.05, 0.1, 0.2, 0.35, 0.5, 0.7], [0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8]],
    "margin": [0.0, 0.08],
    "merge_gap": [0.05, 0.15],
}


def sweep(split, grid, base: ClassicalParams, l2=3.0):
    """5-fold CV (by source id) F1 of the box stage for every combination in ``grid``."""
    items = load_split(split)
    cached = load_cache(cache_dir(split, {}), items)
    keys = list(grid)
    results = []
    for values in itertools.product(*(grid[k] for k in keys)):
        kv = {k: tuple(v) if isinstance(v, list) else v for k, v in zip(keys, values)}
        res = score(cross_validate(cached, items, base.updated(**kv), l2), items)
        results.append((res["best_F1"], kv, res))
        print(f"CV F1 {res['best_F1']:.3f} @ {res['best_thr']:.2f} (P {res['best_P']:.3f} "
              f"R {res['best_R']:.3f})  {kv}", flush=True)
    return sorted(results, key=lambda r: -r[0])


# ----------------------------------------------------------------------- eval
def _detect_one(args):
    stem, path, overrides = args
    det = ClassicalDetector(**overrides)
    t0 = time.perf_counter()
    dets = det.detect(read_image(path))
    return stem, [(d.x0, d.y0, d.x1, d.y1, d.score) for d in dets], time.perf_counter() - t0


def run_eval(split, fold="all", overrides=None, jobs=2, sheet=None, pred_dir=None):
    overrides = overrides or {}
    items = load_split(split, fold)
    tasks = [(stem, path, overrides) for stem, path, _, _ in items]
    preds, times = {}, []
    with Pool(jobs) as pool:
        for stem, boxes, dt in pool.imap_unordered(_detect_one, tasks, chunksize=4):
            preds[stem] = [Detection(*b[:4], score=b[4]) for b in boxes]
            times.append(dt)
    res = score(preds, items, min_score=ClassicalDetector(**overrides).params.min_score)
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
    ap.add_argument("--l2", type=float, default=3.0, help="ridge penalty of the scorer (fit)")
    ap.add_argument("--final", action="store_true",
                    help="fit: on all of the split, min_score from 5-fold CV by source id")
    ap.add_argument("--write", action="store_true",
                    help="fit: store the coefficients in the package (_coefficients.py)")
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
        sweep(a.split, grid, ClassicalParams().updated(**overrides), a.l2)
    elif a.command == "fit":
        p = ClassicalParams().updated(**overrides)
        coef, thr = run_fit(a.split, p, a.l2, final=a.final)
        if a.write:
            write_coefficients(coef, min_score=thr)
    else:
        run_eval(a.split, a.fold, overrides, a.jobs, a.sheet, a.pred_dir)


def write_coefficients(coef, path=ROOT / "src/dsodetect/detectors/classical/_coefficients.py",
                       min_score=None):
    """Store fitted scorer coefficients as a Python module of the package."""
    def fmt(v):
        return [round(float(x), 6) for x in v]
    body = {k: {"features": FEATURES[k], "mean": fmt(c["mean"]), "scale": fmt(c["scale"]), "w": fmt(c["w"]),
                "b": round(float(c["b"]), 6), "n": c.get("n"), "pos": c.get("pos")}
            for k, c in coef.items()}
    where = ("all 584 real-train images (``fit --final --write``)" if min_score is not None
             else 'the real-train "fit" fold (``fit --write``)')
    text = ('"""Logistic scoring coefficients per candidate kind.\n\n'
            f'Written by ``benchmarks/tune_classical.py``, fitted on {where};\n'
            'feature order is ``candidates.FEATURES[kind]``. Do not edit by hand.\n"""\n\n'
            "COEFFICIENTS: dict = " + json.dumps(body, indent=4) + "\n"
            + (f"\n#: Best-F1 score threshold (5-fold CV by source id on real-train).\n"
               f"MIN_SCORE: float = {min_score}\n" if min_score is not None else ""))
    Path(path).write_text(text.replace("null", "None"))
    print(f"coefficients written to {path}")


if __name__ == "__main__":
    main()
