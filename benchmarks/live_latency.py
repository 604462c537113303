"""New file -> notification latency of ``dsodetect watch`` for a 1920x1080 stack.

Writes synthetic 1920x1080 linear RGB FITS stacks (sky, noise, ~400 stars, two
galaxies) into a watched folder and measures the time from the file being
complete (renamed into place, or closed after an in-place write) to the
"new object" notification, with the method(s) given (default: classical).
A fresh session per run, so that every run announces its first object.

    nice -n 10 .venv/bin/python benchmarks/live_latency.py --runs 5
    nice -n 10 .venv/bin/python benchmarks/live_latency.py --runs 3 --mode inplace --poll

Target (issue 5): <= 3 s with the classical method.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from astropy.io import fits


def synthetic_stack(seed: int, h: int = 1080, w: int = 1920) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w, 3), 0.05, np.float32)
    for cx, cy, sx, sy, amp in [(w * 0.5, h * 0.5, 90, 45, 0.08), (w * 0.2, h * 0.3, 40, 30, 0.05)]:
        g = amp * np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))
        img += g[:, :, None] * np.array([1.0, 0.8, 0.7], np.float32)
    for _ in range(400):
        x, y = int(rng.uniform(8, w - 8)), int(rng.uniform(8, h - 8))
        f = rng.uniform(0.05, 2.0)
        sl = (slice(y - 7, y + 8), slice(x - 7, x + 8))
        img[sl] += (f * np.exp(-0.5 * ((xx[sl] - x) ** 2 + (yy[sl] - y) ** 2) / 1.5 ** 2))[:, :, None]
    img += rng.normal(0, 0.004, img.shape).astype(np.float32)
    return np.moveaxis(img, -1, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--method", default="classical")
    ap.add_argument("--mode", choices=["rename", "inplace"], default="rename",
                    help="rename: written under a temp name then renamed; inplace: written under its final name")
    ap.add_argument("--poll", action="store_true", help="polling observer (network shares)")
    ap.add_argument("--settle", type=float, default=1.0)
    args = ap.parse_args()

    from dsodetect.live import LiveSession, SessionConfig
    from dsodetect.live.commands import load_detectors
    from dsodetect.live.notify import Notifier
    from dsodetect.live.watcher import FolderWatcher

    detectors = load_detectors(args.method)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            folder = Path(tmp) / f"in{run}"
            folder.mkdir()
            config = SessionConfig(session_dir=Path(tmp) / f"sess{run}", root=folder, appear_score=0.0)
            notifier = Notifier(desktop=False, stream=open(os.devnull, "w"))
            session = LiveSession(config, detectors, notifier=notifier)
            watcher = FolderWatcher(folder, session.process, is_done=session.is_done, poll=args.poll,
                                    settle=args.settle, exclude=[session.dir])
            stop = threading.Event()
            th = threading.Thread(target=watcher.run, kwargs={"stop": stop}, daemon=True)
            th.start()
            time.sleep(0.5)  # observer up
            hdr = fits.Header({"EXPTIME": 10.0, "STACKCNT": 60})
            data = synthetic_stack(run)
            final = folder / f"stack_{run:03d}.fits"
            if args.mode == "rename":
                tmpf = folder / f".{final.name}.part"
                fits.PrimaryHDU(data, header=hdr).writeto(tmpf)
                os.replace(tmpf, final)
            else:
                fits.PrimaryHDU(data, header=hdr).writeto(final)
            t0 = time.time()  # the file is complete from here on
            while not notifier.history and time.time() - t0 < 60:
                time.sleep(0.01)
            t1 = notifier.history[0].time if notifier.history else float("nan")
            stop.set()
            th.join(10)
            rec = session.store.stacks()[-1] if session.store.count() else {}
            results.append({"latency_s": round(t1 - t0, 3), "processing_s": rec.get("processing_seconds"),
                            "detect_s": {m: v["seconds"] for m, v in rec.get("methods", {}).items()},
                            "objects": sum(len(v["detections"]) for v in rec.get("methods", {}).values())})
            session.close()
            print(json.dumps(results[-1]), flush=True)
    lat = [r["latency_s"] for r in results]
    print(json.dumps({"method": args.method, "mode": args.mode, "poll": args.poll, "settle": args.settle,
                      "runs": len(lat), "latency_median_s": statistics.median(lat), "latency_max_s": max(lat),
                      "cpu": os.cpu_count()}))


if __name__ == "__main__":
    main()
