"""Fit the classical method's candidate scorer (``dsodetect train classical``).

The detector runs in two stages: the expensive one (star removal and the
diffuse significance maps), cached once per image by :func:`build_cache`, and
the cheap one (candidate boxes -> scores -> selection). :func:`run_fit` builds
every image's candidates with the detector's own
:meth:`~dsodetect.detectors.classical.ClassicalDetector.candidates` (so
training and detection cannot drift), labels them by IoU with the truth, and
fits the scorer; ``final`` fits on all images with ``min_score`` from a 5-fold
cross-validation by source id.

Folds split by source id (both copies of a real-train source show the same
field): ``crc32(id) % 5``; fold 0 is ``val``, the rest ``fit``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from ..dataset.split import source_id
from ..detection import Detection, boxes_array
from ..detectors.classical import ClassicalDetector, ClassicalParams
from ..detectors.classical.candidates import select
from ..detectors.classical.diffuse import DiffuseMaps
from ..detectors.classical.scorer import SEEDS, CandidateScorer, feature_matrix, fit_scorer
from ..detectors.classical.stars import StarCatalog
from ..evaluation import match_image, prf, threshold_sweep
from ..io import read_image
from ..outputs import read_yolo
from ..postprocess import box_iou

__all__ = ["run_fit", "build_cache", "load_cache", "load_split", "score", "cross_validate", "predict",
           "image_rows", "fold_index", "fold_of", "CACHE"]

log = logging.getLogger(__name__)

#: Where the expensive stage is cached (``$CLASSICAL_CACHE``).
CACHE = Path(os.environ.get("CLASSICAL_CACHE", Path.home() / ".cache" / "dsodetect" / "classical"))


def fold_index(stem: str, folds: int = 5) -> int:
    """Cross-validation fold of an image: by source id, so both copies of a tile share it."""
    return zlib.crc32(source_id(stem).encode()) % folds


def fold_of(stem: str) -> str:
    return "val" if fold_index(stem) == 0 else "fit"


def load_split(folder, fold: str = "all"):
    """``[(stem, image_path, truth_boxes_px (N,4), (h, w))]`` of a YOLO folder (``images/`` + ``labels/``)."""
    from PIL import Image as PILImage

    folder = Path(folder)
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


def cache_dir(folder, overrides: dict) -> Path:
    """Cache folder of the expensive stage for a data folder and parameter overrides."""
    key = str(Path(folder).resolve()) + json.dumps(overrides, sort_keys=True) + f"/v{CACHE_VERSION}"
    return CACHE / f"{Path(folder).name}-{zlib.crc32(key.encode()):08x}"


def build_cache(folder, overrides: dict, jobs: int = 2) -> Path:
    """Run the expensive stage (star removal, significance maps) once per image; missing entries only."""
    from tqdm import tqdm

    d = cache_dir(folder, overrides)
    d.mkdir(parents=True, exist_ok=True)
    (d / "params.json").write_text(json.dumps(overrides, sort_keys=True))
    items = load_split(folder)
    tasks = [(stem, path, d / f"{stem}.npz", overrides) for stem, path, _, _ in items]
    progress = {"total": len(tasks), "unit": "img", "desc": "classical maps", "disable": None}
    if jobs <= 1:
        for _ in tqdm(map(_stage_a, tasks), **progress):
            pass
        return d
    with Pool(jobs) as pool:
        for _ in tqdm(pool.imap_unordered(_stage_a, tasks, chunksize=4), **progress):
            pass
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


def run_fit(folder, p: ClassicalParams, final=False, seeds=SEEDS, jobs: int = 2):
    """Fit the scorer on a data folder. ``final``: on all of it (5-fold CV by id picks ``min_score``).

    Parameters
    ----------
    folder : path
        A YOLO folder (``images/`` + ``labels/``), e.g. real-train.
    p : ClassicalParams
    final : bool
        Fit on every image, with the threshold from cross-validation; else fit
        on folds 1-4 and report fold 0.
    seeds : tuple of int
    jobs : int
        Processes for the expensive stage (cached between runs).

    Returns
    -------
    dict
        The model (see :func:`~dsodetect.detectors.classical.scorer.fit_scorer`), with ``min_score``, ``cv``...
    """
    build_cache(folder, {}, jobs)
    items_fit = load_split(folder, "fit")
    items_val = load_split(folder, "val")
    items_all = items_fit + items_val
    cached = load_cache(cache_dir(folder, {}), items_all)
    rows = image_rows(cached, items_all, p)
    if not final:
        model = fit_on(rows, items_fit, seeds)
        scorer = CandidateScorer(model)
        for name, items in (("fit", items_fit), ("val", items_val)):
            res = score(predict(rows, items, p, scorer), items)
            log.info(f"{name}: best F1 {res['best_F1']:.3f} @ {res['best_thr']:.3f} "
                  f"(P {res['best_P']:.3f} R {res['best_R']:.3f}); F1@0 {res['F1']:.3f}")
        return model
    oof = cross_validate(rows, items_all, p, seeds=seeds)
    cv = score(oof, items_all)
    thr = round(cv["best_thr"], 2)
    cvt = score(oof, items_all, min_score=thr)
    log.info(f"5-fold CV by id ({len(items_all)} images): best F1 {cv['best_F1']:.3f} @ {cv['best_thr']:.3f} "
          f"-> min_score {thr}: P {cvt['P']:.3f} R {cvt['R']:.3f} F1 {cvt['F1']:.3f} "
          f"(TP {cvt['tp']} FP {cvt['fp']} FN {cvt['fn']})")
    model = fit_on(rows, items_all, seeds)
    res = score(predict(rows, items_all, p, CandidateScorer(model)), items_all, min_score=thr)
    log.info(f"  fitted on all, in-sample at min_score {thr}: P {res['P']:.3f} R {res['R']:.3f} "
          f"F1 {res['F1']:.3f}")
    model.update(min_score=thr, trained_on=f"{Path(folder).name} ({len(items_all)} images, "
                 f"{sum(len(r[0]) for r in rows.values())} candidates)",
                 cv={k: round(float(cvt[k]), 4) for k in ("P", "R", "F1")}, seeds=list(seeds),
                 fitted=time.strftime("%Y-%m-%d"))
    return model
