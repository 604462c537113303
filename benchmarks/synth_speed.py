"""Simulator throughput at 640 px (images/s), in-process and as a data set with workers.

Usage::

    nice -n 10 .venv/bin/python benchmarks/synth_speed.py --n 200 --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=640)
    args = ap.parse_args()

    from dsodetect.synth.dataset import make_dataset, sample_config
    from dsodetect.synth.render import render_scene

    render_scene(size=args.size, seed=0)  # imports and caches
    for preset in ("vespera", "stellina", "seestar"):
        times = []
        for i in range(args.n // 4):
            t0 = time.perf_counter()
            render_scene(preset, seed=i, integration_s=600, size=args.size)
            times.append(time.perf_counter() - t0)
        t = np.array(times)
        print(f"render_scene {preset:8s} {args.size}px: {1 / t.mean():.1f} images/s "
              f"(median {1000 * np.median(t):.0f} ms, p90 {1000 * np.percentile(t, 90):.0f} ms, 1 process)")
    t0 = time.perf_counter()
    for i in range(args.n // 4):
        render_scene(size=args.size, **sample_config(i, seed=1))
    dt = time.perf_counter() - t0
    print(f"render_scene data-set mix {args.size}px: {args.n // 4 / dt:.1f} images/s (1 process)")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        c = make_dataset(tmp, args.n, size=args.size, seed=2, workers=args.workers)
        dt = time.perf_counter() - t0
    print(f"make_dataset {args.n} x {args.size}px, {args.workers} workers (JPEG + labels written): "
          f"{c['images'] / dt:.1f} images/s, {dt:.1f} s -> {1000 / (c['images'] / dt) / 60:.1f} min per 1000 images")


if __name__ == "__main__":
    main()
