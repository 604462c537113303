"""Unit tests of the live-session building blocks (no watcher, no network)."""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import threading

import numpy as np
import pytest
from astropy.io import fits

from dsodetect.detection import Detection
from dsodetect.live.completion import Settler, is_candidate
from dsodetect.io.headers import integration_time as header_integration
from dsodetect.live.integration import integration_seconds, name_integration
from dsodetect.live.notify import Notifier
from dsodetect.live.snr import aperture_snr, fit_sqrt_growth, format_duration, time_to_snr
from dsodetect.live.store import SessionStore, file_key
from dsodetect.live.tracking import match_boxes, update_tracks
from test_live_support import stack_array


# ------------------------------------------------------------------ integration time
@pytest.mark.parametrize("cards, expected", [
    ({"TOTALEXP": 1800.0, "EXPTIME": 10.0, "STACKCNT": 5}, 1800.0),
    ({"LIVETIME": 900.0, "EXPTIME": 10.0}, 900.0),
    ({"EXPTIME": 10.0, "STACKCNT": 42}, 420.0),
    ({"EXPOSURE": 4.0, "NCOMBINE": 30}, 120.0),
    ({"EXPTIME": 600.0, "SUBEXP": 10.0, "NCOMBINE": 60}, 600.0),   # EXPTIME already the total
    ({"EXPTIME": 600.0, "SUBEXP": 10.0}, 600.0),
    ({"EXPTIME": 600.0}, 600.0),
    ({"OBJECT": "M 31"}, None),
    ({"EXPTIME": "bad"}, None),
])
def test_header_integration(cards, expected):
    assert header_integration(fits.Header(cards)) == expected


def test_integration_falls_back_to_file_name_then_file_times(tmp_path):
    seestar = tmp_path / "Stacked_210_NGC 6992_10.0s_IRCUT_20231009-211612.fit"
    seestar.write_bytes(b"x")
    assert name_integration(seestar) == 2100.0
    assert integration_seconds(None, seestar) == (2100.0, "filename")
    assert integration_seconds(fits.Header({"EXPTIME": 5.0}), seestar) == (5.0, "header")
    plain = tmp_path / "live.jpg"
    plain.write_bytes(b"x")
    mtime = plain.stat().st_mtime
    assert integration_seconds(None, plain, session_start=mtime - 300) == pytest.approx((300.0, "estimated"))
    assert integration_seconds(None, plain) == (None, "unknown")
    assert integration_seconds(None, plain, session_start=mtime + 10) == (None, "unknown")


def test_header_exptime_of_one_sub_frame_defers_to_the_seestar_name(tmp_path):
    seestar = tmp_path / "Stacked_210_NGC 6992_10.0s_IRCUT_20231009-211612.fit"
    seestar.write_bytes(b"x")
    assert integration_seconds(fits.Header({"EXPTIME": 10.0}), seestar) == (2100.0, "filename")


@pytest.mark.parametrize("name,expected", [
    ("M42_1800s.jpg", 1800.0), ("M42_30min.jpg", 1800.0), ("M42_1.5h.fits", 5400.0), ("M42_1.5h.fits.gz", 5400.0),
    ("M42_120x10s.jpg", 1200.0), ("stack_2h30m.fits", 9000.0), ("M42 (900s).png", 900.0),
    ("M42_1800.jpg", None), ("s0.fits", None), ("M 51.fits", None), ("img_20231012.jpg", None),
    ("NGC7000_vespera.fits.gz", None),
])
def test_names_that_state_the_time_with_a_unit(name, expected):
    assert name_integration(name) == expected


def test_dwarf_shotsinfo_sidecar(tmp_path):
    import json

    from dsodetect.live.integration import sidecar_integration

    stack = tmp_path / "DWARF_RAW_TELE_IC 1396_EXP_60_GAIN_60_2024-09-01" / "stacked-16_IC 1396.fits"
    stack.parent.mkdir()
    stack.write_bytes(b"x")
    assert sidecar_integration(stack) is None
    (stack.parent / "shotsInfo.json").write_text(json.dumps(
        {"DEC": 57.49, "RA": 21.65, "exp": "60", "shotsStacked": 209, "shotsTaken": 215, "target": "IC 1396"}))
    assert integration_seconds(None, stack) == (60.0 * 209, "sidecar")
    (stack.parent / "shotsInfo.json").write_text("{not json")
    assert integration_seconds(None, stack) == (None, "unknown")


def test_session_clock_never_goes_backwards():
    from dsodetect.live.integration import SessionClock, describe_time, is_known

    clock = SessionClock()
    assert clock.update(None, "unknown") == (None, "unknown")
    assert clock.update(900.0, "header") == (900.0, "header")
    assert clock.update(120.0, "estimated") == (900.0, "held")  # M42_1800.jpg after a 15-minute FITS
    assert clock.update(None, "unknown") == (900.0, "held")
    assert clock.update(1800.0, "filename") == (1800.0, "filename")
    assert describe_time(900.0, "held") == "at least 15 min"
    assert "estimated" in describe_time(120.0, "estimated")
    assert is_known("header") and is_known("sidecar") and not is_known("estimated") and not is_known("held")


# ------------------------------------------------------------------ S/N
def test_fit_sqrt_growth_and_time_to_snr():
    t = np.array([60.0, 120, 240, 480])
    assert fit_sqrt_growth(t, 0.25 * np.sqrt(t)) == pytest.approx(0.25)
    assert time_to_snr(0.25, 5.0) == pytest.approx(400.0)
    assert fit_sqrt_growth([0, -5], [1, 2]) is None          # no usable time
    assert fit_sqrt_growth([60, 120], [-1, -2]) is None      # no signal growing
    assert time_to_snr(None, 5.0) is None
    assert format_duration(42) == "42 s"
    assert format_duration(30 * 60) == "30 min"
    assert format_duration(125 * 60) == "2 h 05 min"
    assert format_duration(None) == "?"


def test_aperture_snr_grows_like_sqrt_t():
    from dsodetect.live.session import starless_gray

    h, w = 240, 320
    snr = []
    for t in (40, 640):
        img = starless_gray(stack_array(t, seed=3, amplitude=6.0, second_object=False))
        snr.append(float(aperture_snr(img, [w / 2], [h / 2], [20])[0]))
    assert snr[0] > 3
    assert snr[1] / snr[0] == pytest.approx(4.0, rel=0.25)  # sqrt(640 / 40)
    # An empty patch of sky has no signal.
    empty = starless_gray(stack_array(640, seed=3, amplitude=0.0, second_object=False))
    assert abs(aperture_snr(empty, [w / 2], [h / 2], [20])[0]) < 3.5


def test_starless_gray_removes_stars_but_keeps_extended_objects():
    from dsodetect.live.session import starless_gray

    img = stack_array(6400, seed=0, amplitude=20.0, second_object=False)
    clean = starless_gray(img)
    assert img[110, 120] > 300 and clean[110, 120] < 140   # star at (120, 110) gone
    assert clean[120, 160] == pytest.approx(img[120, 160])  # object centre untouched
    assert clean[120, 160] > 115


# ------------------------------------------------------------------ tracking
def det(x0, y0, x1, y1, score=0.9, method="a", **extras):
    return Detection(x0, y0, x1, y1, score=score, method=method, extras=extras)


def test_match_boxes_is_greedy_one_to_one():
    a = [[0, 0, 10, 10], [20, 20, 30, 30]]
    b = [[21, 21, 31, 31], [1, 1, 11, 11], [100, 100, 110, 110]]
    pairs = match_boxes(a, b, 0.3)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 1), (1, 0)]
    assert match_boxes(a, [], 0.3) == []
    assert match_boxes([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 0, 10, 10]], 0.3)[0][:2] == (0, 0)


def test_tracks_follow_objects_across_stacks_and_methods():
    tracks = []
    new = update_tracks(tracks, [det(10, 10, 30, 30, 0.5)], 1, 60.0, snr=[3.0])
    assert [t.id for t in new] == [1]
    # Stack 2: the same object slightly moved, seen by two methods, and a new one.
    new = update_tracks(tracks, [det(12, 11, 31, 29, 0.7, "a"), det(9, 9, 29, 31, 0.6, "b", names=["M 51"]),
                                 det(100, 100, 140, 130, 0.8)], 2, 120.0, snr=[4.0, 3.9, 9.0])
    assert [t.id for t in new] == [2]
    assert len(tracks) == 2
    t1 = tracks[0]
    assert [o.stack for o in t1.observations] == [1, 2]
    assert t1.last.methods == ["a", "b"] and t1.last.score == 0.7 and t1.last.snr == 4.0
    assert t1.label() == "M 51"
    # Stack 3: nothing overlaps object 2's box -> still 2 tracks, object 2 not in it.
    update_tracks(tracks, [det(11, 10, 30, 30, 0.9)], 3, 240.0)
    assert len(tracks) == 2 and tracks[1].last.stack == 2 and tracks[0].last.stack == 3
    d = tracks[0].to_dict()
    assert d["first_seconds"] == 60.0 and len(d["observations"]) == 3
    # A box that grew past any overlap still joins its track when it bears the same name.
    update_tracks(tracks, [det(0, 0, 300, 300, 0.9, names=["M 51"])], 4, 480.0)
    assert len(tracks) == 2 and tracks[0].last.stack == 4


# ------------------------------------------------------------------ completion
class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_settler_waits_for_stable_files_and_trusts_renames(tmp_path):
    clock = FakeClock()
    s = Settler(settle=1.0, clock=clock)
    growing = tmp_path / "a.fits"
    growing.write_bytes(b"x" * 10)
    s.touch(growing)
    assert s.ready() == []              # first look
    clock.t = 0.5
    with open(growing, "ab") as fh:
        fh.write(b"y" * 10)              # still being written
    assert s.ready() == []
    clock.t = 1.2
    assert s.ready() == []              # changed at 0.5: not stable for 1 s yet
    clock.t = 1.6
    assert s.ready() == [growing]
    assert growing not in s
    renamed = tmp_path / "b.fits"
    renamed.write_bytes(b"z")
    s.touch(renamed, complete=True)
    assert s.ready() == [renamed]       # atomic rename / close: no wait
    gone = tmp_path / "c.fits"
    gone.write_bytes(b"z")
    s.touch(gone)
    gone.unlink()
    assert s.ready() == [] and len(s) == 0
    empty = tmp_path / "d.fits"
    empty.write_bytes(b"")
    s.touch(empty, complete=True)
    clock.t = 10
    assert s.ready() == []              # nothing written yet


@pytest.mark.parametrize("name, ok", [("m31.fits", True), ("M31.FIT", True), ("x.jpg", True), ("x.tiff", True),
                                      ("x.fits.part", False), (".x.fits", False), ("x.fits~", False),
                                      ("x.tmp", False), ("notes.txt", False), ("x.fits.crdownload", False)])
def test_is_candidate(name, ok):
    assert is_candidate(name) is ok


# ------------------------------------------------------------------ store
def test_store_commits_a_stack_and_its_events_once(tmp_path):
    f = tmp_path / "s.fits"
    f.write_bytes(b"abc")
    key = file_key(f, tmp_path)
    assert key.startswith("s.fits|3|")
    store = SessionStore(tmp_path / "db" / "session.sqlite")
    assert not store.has(key)
    ev = [{"key": "appeared:1", "kind": "appeared", "title": "t", "message": "m"}]
    sid = store.commit_stack(key, str(f), "done", {"seconds": 60.0}, ev)
    assert sid == 1 and store.has(key) and store.count() == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_stack(key, str(f), "done", {"seconds": 60.0}, ev)
    assert store.count() == 1 and len(store.events()) == 1    # the failed commit left nothing
    assert [e["sent"] for e in store.events(unsent_only=True)] == [0]
    store.mark_sent(store.events()[0]["id"])
    assert store.events(unsent_only=True) == []
    assert store.setdefault_meta("session_start", 5.0) == 5.0
    assert store.setdefault_meta("session_start", 9.0) == 5.0
    store.close()
    again = SessionStore(tmp_path / "db" / "session.sqlite")
    assert again.stacks()[0]["seconds"] == 60.0 and again.get_meta("session_start") == 5.0


# ------------------------------------------------------------------ notifications
class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_server():
    _Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/topic", _Hook.received
    server.shutdown()
    server.server_close()


def test_notifier_posts_ntfy_and_json(webhook_server, capsys):
    url, received = webhook_server
    n = Notifier(desktop=False, webhook=url)
    n.send("appeared", "New object: M 51", "M 51 appeared after 12 min")
    n.flush(5)
    headers, body = received[-1]
    assert body.decode() == "M 51 appeared after 12 min"
    assert headers["Title"] == "New object: M 51" and headers["Tags"] == "telescope"
    assert "New object: M 51: M 51 appeared" in capsys.readouterr().out
    j = Notifier(desktop=False, webhook=url, webhook_format="json")
    j.send("no_signal", "No signal", "consider stopping")
    j.flush(5)
    payload = json.loads(received[-1][1])
    assert payload["kind"] == "no_signal" and payload["message"] == "consider stopping"


def test_notifier_survives_unreachable_webhook_and_missing_notify_send(monkeypatch, capsys):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    monkeypatch.setattr("shutil.which", lambda name: None)
    n = Notifier(webhook=f"http://127.0.0.1:{port}/x", timeout=2)
    assert n.notify_send is None
    n.send("appeared", "t", "m")
    n.flush(5)
    assert n.errors and "failed" in n.errors[0]
    assert "warning: webhook" in capsys.readouterr().err
    with pytest.raises(ValueError):
        Notifier(webhook="file:///etc/passwd")


def test_desktop_notification_uses_notify_send(tmp_path, monkeypatch):
    log = tmp_path / "calls.txt"
    fake = tmp_path / "notify-send"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    n = Notifier(desktop=True)
    n.send("target_confirmed", "Target confirmed: M 51", "after 8 min")
    n.flush(5)
    assert "Target confirmed: M 51 after 8 min" in log.read_text()
