"""Benchmark every available method: accuracy on real-dev, speed, and one full frame.

Usage::

    .venv/bin/python benchmarks/bench_methods.py [--data ../shared/data/real-dev] [--methods classical,...]

For each method it reports P / R / F1 at IoU 0.5 (the method's own default
score threshold, and the best-F1 threshold chosen on the same set, marked as
such), mAP@0.5 and mAP@0.5:0.95 (pycocotools), images per second on the
640 px tiles, and the wall time and peak RSS of one 3096x2080 linear FITS
frame (Stellina size) processed in a fresh process. Results are printed as a
Markdown table and written to ``benchmarks/results/<date>.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "real-dev"


def _frame_worker(method: str, path: str, repeats: int) -> None:
    """Run in a child process: time detection on one frame, print JSON with peak RSS."""
    import resource

    from dsodetect.detectors import get_detector
    from dsodetect.io import read_image
    from dsodetect.pipeline import process

    t0 = time.perf_counter()
    image = read_image(path)
    t_read = time.perf_counter() - t0
    rss_after_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    detector = get_detector(method)
    process(image, detector)  # warm-up (imports, lazy init)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = process(image, detector)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"read_s": t_read, "detect_s": float(np.median(times)), "detect_min_s": min(times),
                      "peak_rss_mb": peak, "rss_after_read_mb": rss_after_read,
                      "n_detections": len(res.detections)}))


def make_full_frame(path: Path, seed: int = 0) -> None:
    """A 3096x2080 linear RGB FITS frame (Stellina's sensor) with stars and nebulosity."""
    from astropy.io import fits

    try:  # the simulator when present: realistic stars, objects and noise
        from dsodetect.synth import write_sample
        write_sample(path, preset="stellina", seed=seed, integration_s=1800, jpeg=False, labels=False)
        return
    except ImportError:
        pass
    rng = np.random.default_rng(seed)
    h, w = 2080, 3096
    img = rng.normal(0.05, 0.004, (h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    img += (0.03 * np.exp(-(((xx - 1900) / 420.0) ** 2 + ((yy - 900) / 300.0) ** 2) / 2))[:, :, None] * [1, .4, .4]
    for x, y, f in zip(rng.uniform(0, w, 3000), rng.uniform(0, h, 3000), rng.pareto(1.5, 3000) * 0.05):
        x0, y0 = int(x), int(y)
        sl = np.s_[max(0, y0 - 6):y0 + 7, max(0, x0 - 6):x0 + 7]
        img[sl] += (f * np.exp(-((xx[sl] - x) ** 2 + (yy[sl] - y) ** 2) / 3.0))[:, :, None]
    fits.PrimaryHDU(np.moveaxis(img, -1, 0).astype(np.float32)).writeto(path, overwrite=True)


def bench_dev(method: str, data: Path) -> dict:
    from dsodetect.detectors import get_detector
    from dsodetect.evaluation import evaluate, load_labels
    from dsodetect.io import read_image
    from dsodetect.pipeline import process

    detector = get_detector(method)
    images = sorted((data / "images").glob("*.jpg"))
    pred, sizes = {}, {}
    t_total = 0.0
    for p in images:
        image = read_image(p)
        t0 = time.perf_counter()
        res = process(image, detector)
        t_total += time.perf_counter() - t0
        h, w = image.shape
        sizes[p.stem] = (h, w)
        pred[p.stem] = res.detections
    labels = load_labels(data / "labels", sizes=sizes)
    truth = {stem: labels.get(stem, []) for stem in sizes}  # an image without a label file has no object
    r = evaluate(pred, truth, sizes=sizes)
    r["images_per_s"] = len(images) / t_total
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with images/ and labels/")
    ap.add_argument("--methods", default="", help="comma-separated (default: every available method)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs on the full frame")
    ap.add_argument("--worker", nargs=2, metavar=("METHOD", "FRAME"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _frame_worker(args.worker[0], args.worker[1], args.repeats)
        return 0

    from dsodetect.detectors import MethodUnavailable, available_methods, get_detector

    methods = [m for m in (args.methods.split(",") if args.methods else available_methods()) if m]
    rows, skipped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        frame = Path(tmp) / "frame_3096x2080.fits"
        make_full_frame(frame)
        for m in methods:
            try:
                get_detector(m)
            except (MethodUnavailable, FileNotFoundError, ImportError) as exc:
                skipped.append(f"{m}: {exc}")
                continue
            print(f"[{m}] real-dev ...", file=sys.stderr)
            dev = bench_dev(m, args.data) if args.data.is_dir() else None
            print(f"[{m}] full frame ...", file=sys.stderr)
            proc = subprocess.run([sys.executable, __file__, "--worker", m, str(frame),
                                   "--repeats", str(args.repeats)], capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(proc.stderr)
            full = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append((m, dev, full))

    header = (f"Benchmark {time.strftime('%Y-%m-%d')} on {platform.node() or 'this machine'}: "
              f"{platform.processor() or platform.machine()}, {_cpu_count()} cores, Python "
              f"{platform.python_version()}; data: {args.data.name} ({'present' if args.data.is_dir() else 'absent'})")
    lines = [header, "",
             "| method | P | R | F1 | best F1 (thr on same set) | mAP@0.5 | mAP@.5:.95 | img/s (640 px) "
             "| 3096x2080: s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m, dev, full in rows:
        if dev:
            acc = (f"{dev['precision']:.3f} | {dev['recall']:.3f} | {dev['f1']:.3f} | "
                   f"{dev['best_f1']:.3f} (>= {dev['best_threshold']:.3g}) | {dev['map50']:.3f} | "
                   f"{dev['map50_95']:.3f} | {dev['images_per_s']:.1f}")
        else:
            acc = " | ".join(["-"] * 7)
        lines.append(f"| {m} | {acc} | {full['detect_s']:.2f} | {full['peak_rss_mb']:.0f} |")
    if skipped:
        lines += ["", "Not run: " + "; ".join(skipped)]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{time.strftime('%Y-%m-%d')}.md").write_text(text + "\n")
    return 0


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
