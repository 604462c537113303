"""Replay a live session and measure the outreach page's update latency in a real browser.

Stacks of growing integration are dropped into a watched folder, processed
live (classical method by default) and shown by ``dsodetect serve``'s app in
headless chromium (Debian package, driven by Playwright). For each stack the
time from the file being complete to the page showing it is measured.

Two sources of stacks:

- ``--synthetic M51`` (default): 1920x1080 linear FITS stacks of one synthetic
  sky (``dsodetect.synth.render_field``, same seed, growing ``integration_s``),
  with a TAN WCS, so ``--identify`` can name them.
- ``--image PATH``: one real smart-telescope image (e.g. a real-dev tile from
  ../shared) with the extra noise a shorter stack would have added
  (noise ~ 1/sqrt(t)), as 8-bit JPEGs under Seestar-style names (integration
  read from the name). Its screenshots must not go into the repository: the
  real images' licence (CC BY-NC-ND) forbids it.

Screenshots (desktop, red-light, phone) are written to --shots.

    nice -n 10 .venv/bin/python benchmarks/live_page_demo.py --identify --shots docs/img
    nice -n 10 .venv/bin/python benchmarks/live_page_demo.py --image ../shared/data/real-dev/images/443.jpg --target "Horsehead Nebula"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def simulated_stacks(image_path: Path, seconds: list[float], seed: int = 0):
    """8-bit RGB stacks: the real image plus the noise a shorter integration would add."""
    import cv2

    base = cv2.imread(str(image_path))[:, :, ::-1].astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    sky_noise = 0.02  # of the (stretched) final image
    t_final = seconds[-1]
    for t in seconds:
        extra = sky_noise * np.sqrt(max(t_final / t - 1.0, 0.0))
        img = base + rng.normal(0, extra, base.shape).astype(np.float32)
        yield t, (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def synthetic_stacks(target: str, seconds: list[float], seed: int = 0):
    """Linear FITS cubes of one synthetic sky stacked ever longer (rendered before the session starts)."""
    from dsodetect.synth import render_field

    for t in seconds:
        f = render_field("vespera", seed=seed, integration_s=t, target=target)
        yield t, np.moveaxis(f.linear, -1, 0).astype(np.float32), f.header


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", type=Path, help="real image to replay (else a synthetic sky)")
    ap.add_argument("--synthetic", default="M51", help="target of the synthetic sky")
    ap.add_argument("--target", help="expected target (default: the synthetic target)")
    ap.add_argument("--identify", action="store_true", help="name objects (OpenNGC, plate solving)")
    ap.add_argument("--method", default="classical")
    ap.add_argument("--stacks", type=int, default=6)
    ap.add_argument("--appear-score", type=float, default=0.3)
    ap.add_argument("--shots", type=Path, help="write live_page.png, live_red.png, live_phone.png here")
    args = ap.parse_args()

    import cv2
    from playwright.sync_api import sync_playwright

    from dsodetect.live import LiveSession, SessionConfig
    from astropy.io import fits

    from dsodetect.cli import make_identifier
    from dsodetect.live.commands import load_detectors
    from dsodetect.live.notify import Notifier
    from dsodetect.live.watcher import FolderWatcher
    from dsodetect.web.server import start_in_thread

    chromium = shutil.which("chromium")
    seconds = [60.0 * 2 ** k for k in range(args.stacks)]
    target = args.target or (None if args.image else args.synthetic)
    if args.image:
        stacks = [(t, rgb, None) for t, rgb in simulated_stacks(args.image, seconds)]
    else:
        stacks = list(synthetic_stacks(args.synthetic, seconds))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seestar"
        folder.mkdir()
        config = SessionConfig(session_dir=Path(tmp) / "session", root=folder, target=target,
                               no_signal_minutes=1e9, appear_score=args.appear_score)
        session = LiveSession(config, load_detectors(args.method), notifier=Notifier(desktop=False),
                              identify=make_identifier() if args.identify else None)
        watcher = FolderWatcher(folder, session.process, is_done=session.is_done, exclude=[session.dir])
        stop = threading.Event()
        th = threading.Thread(target=watcher.run, kwargs={"stop": stop}, daemon=True)
        th.start()
        server = start_in_thread(session.dir, port=0)
        url = f"http://127.0.0.1:{server.port}/"
        latencies = []
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=chromium,
                                                       headless=True, args=ARGS,
                                                       viewport={"width": 1600, "height": 900})
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_selector("#conn.live")
            for k, (t, data, header) in enumerate(stacks, start=1):
                if header is None:  # real image: app JPEG, integration in the Seestar-style name
                    name = f"Stacked_{int(t / 10)}_{target}_10.0s_IRCUT_20231020-2215{k:02d}.jpg"
                    part = folder / f".{name}.part.jpg"
                    cv2.imwrite(str(part), data[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
                else:
                    name = f"{args.synthetic.replace(' ', '')}_stack_{k:03d}.fits"
                    part = folder / f".{name}.part"
                    fits.PrimaryHDU(data, header=header).writeto(part)
                os.replace(part, folder / name)
                t0 = time.time()
                page.wait_for_function(f"() => document.querySelector('#base').dataset.stack === '{k}'",
                                       timeout=60_000)
                latencies.append(round(time.time() - t0, 3))
                print(json.dumps({"stack": k, "integration_s": t, "file_to_page_s": latencies[-1],
                                  "snapshot_to_browser_ms": page.evaluate("() => window.dsoLive.latencyMs")}),
                      flush=True)
            if args.shots:
                args.shots.mkdir(parents=True, exist_ok=True)
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.shots / "live_page.png"))
                page.click("[data-testid='toggle-red']")
                page.screenshot(path=str(args.shots / "live_red.png"))
                page.click("[data-testid='toggle-red']")
                page.set_viewport_size({"width": 390, "height": 844})
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.shots / "live_phone.png"), full_page=True)
            ctx.close()
        stop.set()
        th.join(10)
        server.should_exit = True
        session.close()
    print(json.dumps({"method": args.method, "source": args.image.name if args.image else f"synthetic {args.synthetic}", "stacks": len(latencies),
                      "file_to_page_median_s": statistics.median(latencies), "file_to_page_max_s": max(latencies)}))


if __name__ == "__main__":
    main()
