"""The live session end to end: processing, events, restarts, the folder watcher, FTP and compare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dsodetect.detection import Detection
from dsodetect.live import LiveSession, SessionConfig
from dsodetect.live.notify import Notifier
from dsodetect.live.watcher import FolderWatcher
from test_live_support import SlowToy, ToyDetector, stack_rows, write_stack

TESTS = Path(__file__).parent


def session(tmp_path, detectors=None, **cfg):
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    config = SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in", **cfg)
    return LiveSession(config, detectors or [ToyDetector()], notifier=Notifier(desktop=False))


def wait_until(cond, timeout=20.0, step=0.05):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if cond():
            return True
        time.sleep(step)
    return False


class FixedDetector:
    """Returns the same boxes every time (S/N and tracking tests that must not depend on noise)."""

    def __init__(self, boxes, name="fixed", names=None):
        self.boxes, self.name, self.names = boxes, name, names

    def detect(self, image):
        out = []
        for b in self.boxes:
            d = Detection(*b[:4], score=b[4] if len(b) > 4 else 0.9)
            out.append(d)
        return out


# ------------------------------------------------------------------ LiveSession
def test_session_detects_tracks_and_announces(tmp_path, capsys):
    s = session(tmp_path, target="M 99", no_signal_minutes=1000)
    kinds = []
    for i, t in enumerate([20, 160, 2560]):
        out = s.process(write_stack(tmp_path / "in" / f"s{i}.fits", t, seed=i))
        assert out.status == "done"
        kinds.append(sorted(e["kind"] for e in out.events))
    assert kinds[0] == []  # 20 s: nothing visible yet
    assert "appeared" in kinds[2] and "target_confirmed" in kinds[2]
    log = capsys.readouterr().out
    assert "it should reach S/N 5 after" in log or "no growing signal" in log
    assert "Target confirmed: M 99" in log
    # Outputs: same files as `dsodetect detect`, per method, plus the page's view.
    sess = tmp_path / "sess"
    for ext in ("txt", "json", "png"):
        assert (sess / "toy" / f"s2.{ext}").is_file()
    assert (sess / "view" / "s2.jpg").is_file()
    lines = [json.loads(x) for x in (sess / "session.jsonl").read_text().splitlines()]
    assert [x["name"] for x in lines] == ["s0.fits", "s1.fits", "s2.fits"]
    assert [x["seconds"] for x in lines] == [20.0, 160.0, 2560.0]
    snap = json.loads((sess / "session.json").read_text())
    assert snap["target"]["confirmed"] and len(snap["stacks"]) == 3
    centre = [t for t in snap["tracks"] if t["box"][0] < 160 < t["box"][2] and t["box"][1] < 120 < t["box"][3]]
    assert centre and centre[0]["in_latest"]
    # The same file again is skipped; a rewritten one (new size/mtime) is a new stack.
    assert s.process(tmp_path / "in" / "s2.fits").status == "skipped"
    s.close()


def test_target_eta_from_sqrt_t_growth(tmp_path):
    # A detector that never finds the (faint, growing) target: the session must
    # estimate when it should show from the S/N measured at the frame centre.
    s = session(tmp_path, [FixedDetector([])], no_signal_minutes=5, snr_threshold=60)
    events = []
    for i, t in enumerate([60, 120, 240, 480]):
        out = s.process(write_stack(tmp_path / "in" / f"s{i}.fits", t, seed=i, amplitude=6.0,
                                    second_object=False))
        events += out.events
    eta = s.target_eta()
    # True S/N in the r=19 px aperture: 60 % of the Gaussian's flux over sky noise.
    h, w = 240, 320
    r = 0.08 * min(h, w)
    flux = 6.0 * 2 * np.pi * 14.0 ** 2 * (1 - np.exp(-r ** 2 / (2 * 14.0 ** 2)))
    # Noise per pixel at t is 40 / sqrt(t / 10), so S/N = flux sqrt(t) / (40 sqrt(10) sqrt(pi r^2)).
    a_true = flux / (40.0 * np.sqrt(10.0) * np.sqrt(np.pi * r ** 2))
    assert eta["snr_per_sqrt_s"] == pytest.approx(a_true, rel=0.3)
    assert eta["needed_seconds"] == pytest.approx((60 / eta["snr_per_sqrt_s"]) ** 2)
    assert eta["needed_seconds"] > 480
    assert eta["remaining_seconds"] == pytest.approx(eta["needed_seconds"] - 480)
    eta_events = [e for e in events if e["kind"] == "eta"]
    assert len(eta_events) == 1 and "more" in eta_events[0]["message"]   # said once, not every stack
    no_signal = [e for e in events if e["kind"] == "no_signal"]
    assert len(no_signal) == 1 and "consider stopping or changing target" in no_signal[0]["message"]
    assert "more" in no_signal[0]["message"]  # says how long it would take
    s.close()


def test_identify_hook_names_objects_and_confirms_target_by_name(tmp_path):
    def identify(image, detections):
        for d in detections:
            d.extras["names"] = ["NGC 7000"]
            d.extras["description"] = "North America Nebula, emission nebula in Cygnus"

    s = session(tmp_path, [FixedDetector([(10, 10, 60, 50, 0.8)])], target="ngc7000")
    s.identify = identify
    out = s.process(write_stack(tmp_path / "in" / "a.fits", 600))
    titles = [e["title"] for e in out.events]
    assert "New object: NGC 7000" in titles and "Target confirmed: ngc7000" in titles
    snap = s.snapshot()
    assert snap["tracks"][0]["label"] == "NGC 7000"
    s.close()
    # A central object identified as something else does not confirm another target.
    other = session(tmp_path / "other", [FixedDetector([(100, 80, 220, 160, 0.8)])], target="M 31")
    other.identify = identify
    out = other.process(write_stack(tmp_path / "other" / "in" / "b.fits", 600))
    assert [e["kind"] for e in out.events] == ["appeared"]
    other.identify = None
    out = other.process(write_stack(tmp_path / "other" / "in" / "c.fits", 1200))
    assert "target_confirmed" not in [e["kind"] for e in out.events]   # the track keeps its name
    other.close()
    s = session(tmp_path, [FixedDetector([(10, 10, 60, 50, 0.8)])], target="ngc7000")
    assert snap["tracks"][0]["description"].startswith("North America")
    det = json.loads((tmp_path / "sess" / "fixed" / "a.json").read_text())["detections"][0]
    assert det["extras"]["names"] == ["NGC 7000"]
    s.close()


def test_bad_file_costs_one_line_and_is_not_retried(tmp_path, capsys):
    s = session(tmp_path)
    bad = tmp_path / "in" / "broken.fits"
    bad.write_bytes(b"SIMPLE  = this is not a FITS file")
    out = s.process(bad)
    assert out.status == "failed"
    err = capsys.readouterr().out
    assert "broken.fits" in err and "Traceback" not in err
    assert s.process(bad).status == "skipped"
    assert s.process(write_stack(tmp_path / "in" / "good.fits", 600)).status == "done"
    s.close()


def test_restarted_session_replays_tracks_and_sends_nothing_twice(tmp_path):
    s = session(tmp_path, [ToyDetector(), SlowToy()])
    for i, t in enumerate([640, 1280]):
        s.process(write_stack(tmp_path / "in" / f"s{i}.fits", t, seed=i))
    before = s.snapshot()
    sent = len(s.notifier.history)
    assert sent > 0
    s.close()
    again = session(tmp_path, [ToyDetector(), SlowToy()])
    after = again.snapshot()
    assert again.notifier.history == []
    assert [t["observations"] for t in after["tracks"]] == [t["observations"] for t in before["tracks"]]
    assert all(set(o["methods"]) == {"toy", "toy2"} for t in after["tracks"] for o in t["observations"])
    # Events committed but not sent before a crash are sent on restart, once.
    again.store.db.execute("UPDATE events SET sent=0 WHERE id=1")
    again.close()
    third = session(tmp_path, [ToyDetector()])
    assert len(third.notifier.history) == 1
    third.close()


# ------------------------------------------------------------------ watcher
def run_watcher(s, folder, **kw):
    w = FolderWatcher(folder, s.process, is_done=s.is_done, exclude=[s.dir], **kw)
    stop = threading.Event()
    th = threading.Thread(target=w.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    return stop, th


@pytest.mark.parametrize("poll", [False, True])
def test_watcher_processes_complete_files_once(tmp_path, poll):
    s = session(tmp_path, [FixedDetector([(10, 10, 60, 50, 0.8)])])
    folder = tmp_path / "in"
    write_stack(folder / "before.fits", 60)          # there before the watcher started
    stop, th = run_watcher(s, folder, poll=poll, settle=0.4, interval=0.05, rescan=0.5)
    try:
        write_stack(folder / "renamed.fits", 120)    # atomic rename
        (folder / "ignored.fits.part").write_bytes(b"partial")
        (folder / "notes.txt").write_text("not an image")
        # Written in place, slowly, in chunks: must not be read half-written.
        slow = folder / "slow.fits"
        write_stack(tmp_path / "slow_src.fits", 240, atomic=False)
        data = (tmp_path / "slow_src.fits").read_bytes()
        with open(slow, "wb") as fh:
            for k in range(0, len(data), len(data) // 4 + 1):
                fh.write(data[k:k + len(data) // 4 + 1])
                fh.flush()
                time.sleep(0.15)
        assert wait_until(lambda: s.store.count(None) >= 3)
        time.sleep(1.0)  # rescans happen; nothing more may be processed
    finally:
        stop.set()
        th.join(10)
    rows = s.store.stacks(status=None)
    assert sorted(Path(r["file"]).name for r in rows) == ["before.fits", "renamed.fits", "slow.fits"]
    assert all(r["status"] == "done" for r in rows)
    s.close()


def _cli(folder, session_dir, *extra):
    env = dict(os.environ, PYTHONPATH=f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               DSO_TOY_SLEEP="0.3")
    return subprocess.Popen([sys.executable, "-m", "dsodetect.cli", "watch", str(folder), "--session",
                             str(session_dir), "--method", "test_live_support:ToyDetector", "--no-desktop",
                             "--settle", "0.3", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)


def _done(session_dir):
    return [r[0] for r in stack_rows(session_dir)]


def test_watch_survives_kill9_without_losing_or_repeating_stacks(tmp_path):
    folder, sess = tmp_path / "in", tmp_path / "sess"
    folder.mkdir()
    proc = _cli(folder, sess)
    try:
        names = []
        for i in range(4):
            names.append(write_stack(folder / f"a{i}.fits", 60 * (i + 1), seed=i).name)
            time.sleep(0.1)
        assert wait_until(lambda: len(_done(sess)) >= 2, timeout=30)
        proc.send_signal(signal.SIGKILL)      # in the middle of the batch
        proc.wait(10)
        n_before = len(_done(sess))
        for i in range(3):                     # stacks arriving while the watcher is down
            names.append(write_stack(folder / f"b{i}.fits", 600 + 60 * i, seed=10 + i).name)
        proc = _cli(folder, sess)
        assert wait_until(lambda: len(_done(sess)) >= len(names), timeout=40)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    done = [Path(p).name for p in _done(sess)]
    assert n_before < len(names)                               # the kill really interrupted work
    assert sorted(done) == sorted(names)                       # 0 lost, 0 duplicated
    log = [json.loads(x)["name"] for x in (sess / "session.jsonl").read_text().splitlines()]
    assert sorted(log) == sorted(names)
    snap = json.loads((sess / "session.json").read_text())
    assert len(snap["stacks"]) == len(names)
    assert "Traceback" not in out


def test_second_watcher_on_same_session_is_refused(tmp_path):
    folder, sess = tmp_path / "in", tmp_path / "sess"
    folder.mkdir()
    first = _cli(folder, sess)
    try:
        assert wait_until(lambda: (sess / "session.json").exists(), timeout=20)
        second = _cli(folder, sess)
        out, _ = second.communicate(timeout=20)
        assert second.returncode == 2 and "already using" in out
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=15)


def test_watch_rejects_missing_folder_and_unknown_method(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    r = CliRunner().invoke(app, ["watch", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a folder" in r.output
    r = CliRunner().invoke(app, ["watch", str(tmp_path), "--method", "nosuch", "--no-desktop"])
    assert r.exit_code == 2 and "nosuch" in r.output


# ------------------------------------------------------------------ FTP
@pytest.fixture
def ftp_server(tmp_path):
    pytest.importorskip("pyftpdlib")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    remote = tmp_path / "remote"
    remote.mkdir()
    auth = DummyAuthorizer()
    auth.add_user("vespera", "secret", str(remote), perm="elr")
    handler = type("Handler", (FTPHandler,), {"authorizer": auth, "passive_ports": None})
    server = FTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    th.start()
    yield remote, f"ftp://vespera:secret@127.0.0.1:{server.address[1]}/"
    server.close_all()


def test_ftp_pull_downloads_complete_files_once(tmp_path, ftp_server):
    from dsodetect.live.ftp import FtpPuller, parse_ftp_url
    from dsodetect.live.store import SessionStore

    remote, url = ftp_server
    assert str(parse_ftp_url(url)).startswith("ftp://vespera@127.0.0.1:")   # no password shown
    local = tmp_path / "in"
    local.mkdir()
    store = SessionStore(tmp_path / "sess" / "session.sqlite")
    pull = FtpPuller(url, local, seen=store.pulled, mark=store.add_pulled)
    write_stack(remote / "img1.fits", 60)
    (remote / "readme.txt").write_text("x")
    assert pull.poll_once() == []                      # first sight: wait for a stable size
    growing = remote / "img2.fits"
    growing.write_bytes((remote / "img1.fits").read_bytes()[:2880])
    got = pull.poll_once()
    assert [p.name for p in got] == ["img1.fits"]
    assert (local / "img1.fits").read_bytes() == (remote / "img1.fits").read_bytes()
    growing.write_bytes((remote / "img1.fits").read_bytes())   # finished writing
    assert pull.poll_once() == []                      # grew since last listing: not yet
    assert [p.name for p in pull.poll_once()] == ["img2.fits"]
    # A new puller (restart) with the same store fetches nothing again.
    again = FtpPuller(url, local, seen=store.pulled, mark=store.add_pulled)
    again.poll_once()
    assert again.poll_once() == []
    assert sorted(p.name for p in local.iterdir()) == ["img1.fits", "img2.fits"]
    store.close()


def test_ftp_bad_url_and_unreachable_server(tmp_path):
    from dsodetect.live.ftp import FtpPuller, parse_ftp_url

    with pytest.raises(ValueError):
        parse_ftp_url("http://example/")
    pull = FtpPuller("ftp://127.0.0.1:1/", tmp_path, interval=0.05, timeout=1)
    msgs = []
    stop = threading.Event()
    th = threading.Thread(target=pull.run, args=(stop, msgs.append), daemon=True)
    th.start()
    time.sleep(0.4)
    stop.set()
    th.join(5)
    assert len(msgs) == 1 and msgs[0].startswith("warning: FTP")   # said once, kept trying


# ------------------------------------------------------------------ compare
def test_compare_reports_gained_lost_and_kept(tmp_path):
    from dsodetect.live.compare import compare_stacks, format_comparison

    a = write_stack(tmp_path / "short.fits", 40, seed=1)
    b = write_stack(tmp_path / "long.fits", 2560, seed=2)
    report = compare_stacks(a, b, [ToyDetector()])
    assert report["a"]["seconds"] == 40.0 and report["b"]["seconds"] == 2560.0
    assert report["a"]["count"] < report["b"]["count"]
    assert len(report["gained"]) == report["b"]["count"] - len(report["kept"])
    assert report["lost"] == []
    text = format_comparison(report)
    assert f"{len(report['gained'])} gained" in text
    # Same stack twice: everything kept, nothing gained or lost, score unchanged.
    same = compare_stacks(b, b, [ToyDetector()])
    assert not same["gained"] and not same["lost"]
    assert all(k["score_change"] == 0 for k in same["kept"])


def test_compare_cli_json_and_bad_file(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    a = write_stack(tmp_path / "a.fits", 40, seed=1)
    b = write_stack(tmp_path / "b.fits", 2560, seed=2)
    sys.path.insert(0, str(TESTS))
    r = CliRunner().invoke(app, ["compare", str(a), str(b), "-m", "test_live_support:ToyDetector", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["b"]["count"] >= 1
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 nope")
    r = CliRunner().invoke(app, ["compare", str(a), str(bad), "-m", "test_live_support:ToyDetector"])
    assert r.exit_code == 1 and "bad.jpg" in r.output and "Traceback" not in r.output
