"""The outreach page in a real browser: Debian's chromium driven by Playwright.

Skipped when chromium or the ``playwright`` Python package is missing. No
browser is downloaded: Playwright drives ``/usr/bin/chromium``, headless, with
a fresh profile and background networking off. Set ``DSO_DOCS_SCREENSHOT=1``
to refresh ``docs/img/live_test_page.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # test_live_support
from test_live_support import ToyDetector, write_stack  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "img"


class HeatmapToy(ToyDetector):
    """The toy detector plus an array product, like XRAI's heatmap."""

    name = "toy"

    def detect(self, image):
        from dsodetect.detection import DetectionResult, Product

        dets = super().detect(image)
        h, w = image.shape
        y, x = np.mgrid[0:h, 0:w]
        heat = np.exp(-((x - w / 2) ** 2 + (y - h / 2) ** 2) / (2 * 30.0 ** 2))
        self.last_products = {"heatmap": heat}  # the older protocol
        return DetectionResult(image, self.name, dets, products={"heatmap": Product(heat, "heatmap")})


@pytest.fixture
def live(tmp_path):
    from dsodetect.live import LiveSession, SessionConfig
    from dsodetect.live.notify import Notifier
    from dsodetect.live.watcher import FolderWatcher
    from dsodetect.web.server import start_in_thread

    folder = tmp_path / "in"
    folder.mkdir()

    def identify(image, detections):
        for d in detections:
            if d.x0 < image.shape[1] / 2 < d.x1:
                d.extras["names"] = ["Test Galaxy"]
                d.extras["description"] = "A synthetic spiral galaxy drawn by the test"

    config = SessionConfig(session_dir=tmp_path / "sess", root=folder, target="Test Galaxy")
    session = LiveSession(config, [HeatmapToy()], notifier=Notifier(desktop=False), identify=identify)
    watcher = FolderWatcher(folder, session.process, is_done=session.is_done, exclude=[session.dir],
                            interval=0.05, settle=0.3)
    stop = threading.Event()
    th = threading.Thread(target=watcher.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    server = start_in_thread(session.dir, port=0)
    from dsodetect.web.commands import write_phone_links

    write_phone_links(session.dir, [f"http://192.0.2.10:{server.port}/"])  # as `serve --host 0.0.0.0` does
    yield folder, f"http://127.0.0.1:{server.port}/"
    stop.set()
    th.join(10)
    server.should_exit = True
    server.thread.join(5)
    session.close()


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download needed)")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                   headless=True, args=ARGS,
                                                   viewport={"width": 1600, "height": 900})
        yield ctx
        ctx.close()


def test_page_shows_new_stacks_live_and_toggles_work(live, browser, tmp_path):
    folder, url = live
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("#empty", state="visible")
    assert page.inner_text("#stack-count") == "0"
    page.wait_for_selector("#conn.live", timeout=10_000)

    # A new stack dropped into the folder appears with its boxes, without reloading.
    t0 = time.time()
    write_stack(folder / "stack_001.fits", 2560, seed=2)
    page.wait_for_function("() => document.querySelector('#base').dataset.stack === '1' && "
                           "document.querySelectorAll('#boxes rect').length > 0", timeout=15_000)
    latency = time.time() - t0
    live_info = page.evaluate("() => window.dsoLive")
    report = {"file_to_page_s": round(latency, 3), "snapshot_to_browser_ms": live_info["latencyMs"]}
    print(f"\npage update latency: {json.dumps(report)}")
    (tmp_path / "latency.json").write_text(json.dumps(report))
    n_boxes = page.locator("#boxes rect").count()
    assert page.inner_text("#stack-count") == "1"
    assert "Test Galaxy" in page.inner_text("#objects")
    assert "synthetic spiral" in page.inner_text("#objects")
    assert "confirmed" in page.inner_text("#target-status")
    assert page.locator("#boxes text").first.text_content().startswith(("Test Galaxy", "#"))

    # Toggles: boxes off and on, heatmap layer on, red-light mode.
    page.click("[data-testid='toggle-boxes:toy']")
    assert page.locator("#boxes rect").count() == 0
    page.click("[data-testid='toggle-boxes:toy']")
    assert page.locator("#boxes rect").count() == n_boxes
    assert page.locator("#layers img").count() == 0
    page.click("[data-testid='toggle-product:toy:heatmap']")
    page.wait_for_selector("#layers img[data-layer='toy:heatmap']")
    assert page.get_attribute("[data-testid='toggle-product:toy:heatmap']", "aria-pressed") == "true"
    page.click("[data-testid='toggle-red']")
    assert "red" in page.get_attribute("body", "class")
    page.click("[data-testid='toggle-red']")
    assert "red" not in (page.get_attribute("body", "class") or "")

    # A second, longer stack: the timeline grows; toggles stay as set.
    write_stack(folder / "stack_002.fits", 5120, seed=3)
    page.wait_for_function("() => document.querySelector('#base').dataset.stack === '2'", timeout=15_000)
    assert page.inner_text("#stack-count") == "2"
    assert page.locator("#timeline polyline[data-track]").count() >= 1
    assert page.locator("#layers img[data-layer='toy:heatmap']").count() == 1
    # The overlay sits exactly on the image.
    base = page.locator("#base").bounding_box()
    boxes = page.locator("#boxes").bounding_box()
    assert abs(base["x"] - boxes["x"]) < 1 and abs(base["width"] - boxes["width"]) < 1
    assert base["width"] / base["height"] == pytest.approx(320 / 240, rel=0.02)
    page.click("[data-testid='toggle-product:toy:heatmap']")
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("DSO_DOCS_SCREENSHOT"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS / "live_test_page.png")
    assert not errors, errors


def test_page_is_usable_on_a_phone(live, browser):
    folder, url = live
    write_stack(folder / "stack_001.fits", 2560, seed=2)
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    page.wait_for_function("() => document.querySelectorAll('#boxes rect').length > 0", timeout=15_000)
    stage = page.locator("#stage").bounding_box()
    assert stage["width"] <= 390 and stage["width"] > 300          # full width, no horizontal scroll
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    toggle = page.locator("[data-testid='toggle-boxes:toy']").bounding_box()
    assert toggle["height"] >= 40                                   # thumb-sized buttons
    page.click("[data-testid='toggle-boxes:toy']")
    assert page.locator("#boxes rect").count() == 0


def test_target_by_common_name_counts_agree_times_never_go_back_and_qr_shown(tmp_path, browser):
    """The issue-14 session: target given by a common name, one filtered set behind count/list/boxes,
    a stack without a time after a timed one (held, never backwards), the phone QR code on the page."""
    from astropy.io import fits

    from dsodetect.live import LiveSession, SessionConfig
    from dsodetect.live.notify import Notifier
    from dsodetect.live.watcher import FolderWatcher
    from dsodetect.web.commands import write_phone_links
    from dsodetect.web.server import start_in_thread
    from test_live_support import stack_array

    folder = tmp_path / "in"
    folder.mkdir()

    def identify(image, detections):  # stands in for the plate solve: the central object is M 51
        for d in detections:
            if d.x0 < image.shape[1] / 2 < d.x1:
                d.extras["names"] = ["Whirlpool Galaxy (M 51)"]

    config = SessionConfig(session_dir=tmp_path / "sess", root=folder, target="Whirlpool")
    session = LiveSession(config, [ToyDetector()], notifier=Notifier(desktop=False), identify=identify)
    watcher = FolderWatcher(folder, session.process, is_done=session.is_done, exclude=[session.dir],
                            interval=0.05, settle=0.3)
    stop = threading.Event()
    th = threading.Thread(target=watcher.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    server = start_in_thread(session.dir, port=0)
    write_phone_links(session.dir, [f"http://192.0.2.10:{server.port}/"])
    try:
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.wait_for_selector("#conn.live", timeout=10_000)
        write_stack(folder / "m51_a.fits", 2560, seed=2)
        page.wait_for_function("() => document.querySelector('#base').dataset.stack === '1'", timeout=15_000)
        untimed = folder / "m51_b.fits"  # no time in its header or name: estimated from file times, held
        fits.PrimaryHDU(stack_array(3000, seed=4)).writeto(folder / ".m51_b.part")
        os.replace(folder / ".m51_b.part", untimed)
        page.wait_for_function("() => document.querySelector('#base').dataset.stack === '2'", timeout=15_000)
        write_stack(folder / "m51_c.fits", 5120, seed=3)
        page.wait_for_function("() => document.querySelector('#base').dataset.stack === '3'", timeout=15_000)
        assert "confirmed" in page.inner_text("#target-status")
        assert "Whirlpool Galaxy (M 51)" in page.inner_text("#objects")
        snap = page.evaluate("() => fetch('/api/session').then((r) => r.json())")
        confirmed = [e for e in snap["events"] if e["kind"] == "target_confirmed"]
        assert confirmed and "Whirlpool" in confirmed[0]["message"] and "M 51" in confirmed[0]["message"]
        # One set: the header count, the boxes drawn and the objects listed agree.
        n = int(page.inner_text("#object-count"))
        assert n >= 1
        assert page.locator("#boxes rect").count() == n
        assert page.locator("#objects li[data-track]").count() == n
        assert page.locator("#objects [data-testid='signal']").count() == n
        # Times never go backwards; the untimed stack is held at the previous time.
        secs = [st["seconds"] for st in snap["stacks"]]
        assert secs == sorted(secs) and secs[1] == secs[0] == 2560.0
        assert snap["stacks"][1]["seconds_source"] == "held"
        # The phone QR code is on the page.
        page.wait_for_selector("#phone-qr", state="visible")
        assert page.evaluate("() => document.querySelector('#phone-qr').naturalWidth") > 50
        assert "192.0.2.10" in page.inner_text("#phone-url")
        shot = tmp_path / "names.png"
        page.set_viewport_size({"width": 1400, "height": 1250})  # tall enough for the QR panel
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
        if os.environ.get("DSO_DOCS_SCREENSHOT"):
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, DOCS / "live_names_page.png")
        assert not errors, errors
    finally:
        stop.set()
        th.join(10)
        server.should_exit = True
        server.thread.join(5)
        session.close()
