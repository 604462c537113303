"""Full-frame benchmark: mosaics of real-dev tiles, scored like tiles.

Owners' frames hold many objects (3096x2080 Stellina, 1920x1080 Vespera /
Seestar). No labelled real full frames exist, so this builds them from real
data: real-dev tiles (640 px) laid out 5 x 3 in a 3200 x 1920 frame, their
labels shifted with them; 57 tiles give four frames (the last with three empty,
black slots). Each method runs on the tiles and on the mosaics through the
pipeline (the mosaics tiled for the tile-based methods; xai and pix2pix see a
frame in one pass) and both are scored the same way: greedy one-to-one
matching at IoU 0.5, P/R/F1 at the method's own threshold, mAP (pycocotools).

    python benchmarks/fullframe_mosaics.py [--methods classical,yolo] [--render build/mosaic_yolo.png]
        [--render-tiles build/tiles_yolo.png]
        [--data ../shared/data/real-dev] [--no-one-pass] [-O yolo:model=/path/to.onnx]

Needs ../shared/data (not shipped). Prints a table and writes JSON with --json.
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

from dsodetect.dataset.yolo import read_labels, write_labels  # noqa: E402
from dsodetect.detection import Detection  # noqa: E402
from dsodetect.detectors import get_detector, parse_options  # noqa: E402
from dsodetect.evaluation import evaluate  # noqa: E402
from dsodetect.io import read_image  # noqa: E402
from dsodetect.pipeline import process  # noqa: E402

COLS, ROWS, TILE = 5, 3, 640


def build_mosaics(data: Path, dst: Path, *, seed: int = 0, limit: int | None = None) -> list[Path]:
    """Write ``mosaic_<k>.jpg`` + ``labels/mosaic_<k>.txt`` from the tiles of ``data``; return the images."""
    import cv2

    imgs = tile_paths(data, limit)
    order = np.random.default_rng(seed).permutation(len(imgs))
    per = COLS * ROWS
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(0, len(imgs), per):
        frame = np.zeros((ROWS * TILE, COLS * TILE, 3), np.uint8)
        boxes = []
        for slot, i in enumerate(order[k:k + per]):
            p = imgs[i]
            tile = cv2.imread(str(p))
            tile = cv2.resize(tile, (TILE, TILE), interpolation=cv2.INTER_AREA) if tile.shape[:2] != (TILE, TILE) else tile
            r, c = divmod(slot, COLS)
            frame[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = tile
            lab = data / "labels" / f"{p.stem}.txt"
            for d in (read_labels(lab, TILE, TILE) if lab.exists() else []):
                boxes.append(Detection(d.x0 + c * TILE, d.y0 + r * TILE, d.x1 + c * TILE, d.y1 + r * TILE))
        path = dst / f"mosaic_{k // per}.jpg"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        write_labels(dst / "labels" / f"mosaic_{k // per}.txt", boxes, frame.shape[1], frame.shape[0])
        out.append(path)
    return out


def tile_paths(data: Path, limit: int | None = None) -> list[Path]:
    """The tiles of a folder; with ``limit``, one copy per source id, the first ``limit`` ids (tuning on real-train)."""
    from dsodetect.dataset.split import source_id

    imgs = sorted((data / "images").glob("*.jpg"))
    if limit:
        seen, kept = set(), []
        for p in imgs:
            if source_id(p.stem) not in seen:
                seen.add(source_id(p.stem))
                kept.append(p)
        imgs = kept[:limit]
    return imgs


def run(paths, label_dir: Path, detector, *, tiling="auto"):
    """Detections, truth and timings of one method over images (and the first image's heatmap, if any)."""
    pred, truth, times = {}, {}, []
    first_heat = None
    for p in paths:
        img = read_image(p)
        h, w = img.shape
        t0 = time.perf_counter()
        res = process(img, detector, tiling=tiling)
        pred[p.stem] = res.detections
        times.append(time.perf_counter() - t0)
        if p == paths[0] and "heatmap" in res.products:
            first_heat = res.products["heatmap"].data
        lab = label_dir / f"{p.stem}.txt"
        truth[p.stem] = read_labels(lab, w, h) if lab.exists() else []
    return pred, truth, times, first_heat


def score(pred, truth) -> dict:
    rep = evaluate(pred, truth, iou=0.5)
    return {k: round(float(rep[k]), 3) for k in ("precision", "recall", "f1", "map50", "map50_95")} | {
        "tp": rep["tp"], "fp": rep["fp"], "fn": rep["fn"]}


def render(path: Path, dets, truth, out: Path, max_side: int = 1600, heat=None) -> None:
    """Truth (green) and detections (magenta, with score) on the frame (and its heatmap), shrunk to ``max_side``."""
    import cv2

    from dsodetect.outputs.writers import heatmap_overlay

    im = cv2.imread(str(path))
    if heat is not None:
        im = np.ascontiguousarray(heatmap_overlay(read_image(path), heat, alpha=0.8)[:, :, ::-1])
    f = max_side / max(im.shape[:2])
    im = cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    for d in truth:
        cv2.rectangle(im, (int(d.x0 * f), int(d.y0 * f)), (int(d.x1 * f), int(d.y1 * f)), (60, 220, 60), 2)
    for d in dets:
        cv2.rectangle(im, (int(d.x0 * f), int(d.y0 * f)), (int(d.x1 * f), int(d.y1 * f)), (255, 60, 255), 2)
        cv2.putText(im, f"{d.score:.2f}", (int(d.x0 * f) + 3, int(d.y0 * f) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 60, 255), 1, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)  # cv2.imwrite fails silently into a missing folder
    cv2.imwrite(str(out), im)


def render_tiles(paths, label_dir: Path, detector, out: Path, *, n: int = 8, size: int = 400) -> None:
    """A contact sheet of ``n`` tiles evenly spread over ``paths``: heatmap (if the method makes one), truth, boxes."""
    import tempfile as _tmp

    import cv2

    picked = paths[:: max(1, len(paths) // n)][:n]
    sheet = []
    with _tmp.TemporaryDirectory() as tmp:
        for p in picked:
            img = read_image(p)
            res = process(img, detector)
            heat = res.products.get("heatmap")
            lab = label_dir / f"{p.stem}.txt"
            one = Path(tmp) / f"{p.stem}.png"
            render(p, res.detections, read_labels(lab, *img.shape[::-1]) if lab.exists() else [], one,
                   max_side=size, heat=None if heat is None else heat.data)
            sheet.append(cv2.imread(str(one)))
    rows = [np.hstack(sheet[i:i + 4] + [np.zeros_like(sheet[0])] * (4 - len(sheet[i:i + 4])))
            for i in range(0, len(sheet), 4)]
    out.parent.mkdir(parents=True, exist_ok=True)  # cv2.imwrite fails silently into a missing folder
    cv2.imwrite(str(out), np.vstack(rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--methods", default="classical")
    ap.add_argument("-O", dest="options", action="append", default=[], metavar="METHOD:NAME=VALUE")
    ap.add_argument("--render", type=Path, help="draw mosaic 0 with truth and the last method's boxes here "
                    "(keep it out of the repository, e.g. build/: the real tiles are not ours to redistribute)")
    ap.add_argument("--render-tiles", type=Path, help="draw eight tiles with truth, boxes and heatmap here")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--limit", type=int, help="use one copy of the first N source ids (tuning on real-train)")
    ap.add_argument("--tiling", type=json.loads, help="JSON options for detect_tiled, e.g. "
                    "'{\"overlap\": 0.25, \"levels\": 2}' (tuning; default the method's own)")
    ap.add_argument("--tile-size", type=int, help="override the method's tile size (tuning)")
    ap.add_argument("--no-one-pass", action="store_true", help="leave out the untiled baseline (slow for xai)")
    a = ap.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        mosaics = build_mosaics(a.data, Path(tmp), limit=a.limit)
        tiles = tile_paths(a.data, a.limit)
        for method in a.methods.split(","):
            opts = parse_options(method, [o.split(":", 1)[1] for o in a.options if o.startswith(method + ":")])
            det = get_detector(method, **opts)
            if a.tiling is not None:
                det.tiling = a.tiling
            if a.tile_size:
                det.tile_size = a.tile_size
            process(read_image(tiles[0]), det)  # warm-up: model load, first-call costs
            tp, tt, t_times, _ = run(tiles, a.data / "labels", det)
            mp, mt, m_times, heat = run(mosaics, Path(tmp) / "labels", det)
            results[method] = {"tiles": score(tp, tt) | {"s_per_image": round(float(np.median(t_times)), 3)},
                               "mosaics": score(mp, mt) | {"s_per_frame": round(float(np.median(m_times)), 3)}}
            if not a.no_one_pass:
                op, ot, _, _ = run(mosaics, Path(tmp) / "labels", det, tiling=False)
                results[method]["mosaics_one_pass"] = score(op, ot)
            if a.render:
                render(mosaics[0], mp["mosaic_0"], mt["mosaic_0"], a.render, heat=heat)
            if a.render_tiles:
                render_tiles(tiles, a.data / "labels", det, a.render_tiles)
    print(f"{'method':10s} {'set':18s} {'P':>6s} {'R':>6s} {'F1':>6s} {'mAP50':>6s} {'TP':>4s} {'FP':>4s} {'FN':>4s}  time")
    for m, r in results.items():
        for k, v in r.items():
            t = v.get("s_per_image", v.get("s_per_frame", ""))
            print(f"{m:10s} {k:18s} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} {v['map50']:6.3f} "
                  f"{v['tp']:4d} {v['fp']:4d} {v['fn']:4d}  {t}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
