"""Issue 13, the live session: strict JSON, absurd headers, hostile names, failures recorded once,
no crash loop; the kill -9 test with a bad file and a full disk in the stream."""

from __future__ import annotations

import errno
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
from astropy.io import fits

from dsodetect.live import LiveSession, SessionConfig
from dsodetect.live.notify import Notifier
from dsodetect.live.store import SessionStore, db_text, strict_json
from dsodetect.live.watcher import FolderWatcher
from test_live_support import ToyDetector, stack_array, stack_rows, write_stack

TESTS = Path(__file__).parent


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def wait_until(cond, timeout=20.0, step=0.05):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if cond():
            return True
        time.sleep(step)
    return False


class FlakyDetector(ToyDetector):
    """ToyDetector that fails like a full disk (ENOSPC) on files named ``*full*`` while
    ``$DSO_DISK_FULL`` names an existing file, fails unexpectedly on ``*boom*`` and kills
    its process with SIGSEGV on ``*crash*``."""

    name = "toy"

    def detect(self, image):
        name = image.path.name if image.path else ""
        marker = os.environ.get("DSO_DISK_FULL", "")
        if "full" in name and marker and os.path.exists(marker):
            raise OSError(errno.ENOSPC, "No space left on device", str(image.path))
        if "boom" in name:
            raise RuntimeError("detector bug on purpose")
        if "crash" in name:  # a crash in native code: nothing in Python can catch it
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().detect(image)


def session(tmp_path, detectors=None):
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    config = SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in")
    return LiveSession(config, detectors or [ToyDetector()], notifier=Notifier(desktop=False))


# ------------------------------------------------------------------ strict JSON
def test_strict_json_never_writes_nan_or_infinity():
    text = strict_json({"a": float("inf"), "b": [float("nan"), 1.5, (-float("inf"),)], "c": {"d": 2}})
    assert _strict(text) == {"a": None, "b": [None, 1.5, [None]], "c": {"d": 2}}
    with pytest.raises(TypeError):
        strict_json({"x": object()})


def test_exptime_1e308_never_reaches_session_json(tmp_path):
    s = session(tmp_path)
    path = tmp_path / "in" / "absurd.fits"
    hdr = fits.Header({"EXPTIME": 1e308, "STACKCNT": 10})
    fits.PrimaryHDU(stack_array(600), header=hdr).writeto(path)
    with pytest.warns(Warning):
        out = s.process(path)
    assert out.status == "done"
    snap = _strict((s.dir / "session.json").read_text())
    seconds = snap["stacks"][0]["seconds"]
    assert seconds is None or (np.isfinite(seconds) and seconds < 1e7)
    for line in (s.dir / "session.jsonl").read_text().splitlines():
        _strict(line)
    s.close()


# ------------------------------------------------------------------ store
def test_store_takes_non_utf8_names_and_records_failures_once(tmp_path):
    store = SessionStore(tmp_path / "s.sqlite")
    name = os.fsdecode(b"bad\xff.fits")
    key = f"{name}|10|123"
    assert not store.has(key)
    store.commit_stack(key, f"/x/{name}", "done", {"file": f"/x/{name}", "seconds": float("inf")},
                       [{"key": f"new:{name}", "kind": "new", "title": f"in {name}", "message": name}])
    assert store.has(key) and store.stacks()[0]["seconds"] is None
    assert db_text(key) == "bad\\xff.fits|10|123"
    assert store.commit_failure("other|1|2", "/x/other.fits", "No space left\non device") is True
    assert store.commit_failure("other|1|2", "/x/other.fits", "again") is False  # once only
    assert store.commit_failure(key, "/x/dup", "too late") is False             # done stays done
    assert store.failures() == {"other|1|2": "No space left on device"}
    store.close()


# ------------------------------------------------------------------ watcher
def _run(w):
    stop = threading.Event()
    th = threading.Thread(target=w.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    return stop, th


def test_watcher_survives_a_failing_file_and_never_retries_it(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    calls, errors = [], []

    def on_file(path):
        calls.append(path.name)
        if path.name.startswith("full"):
            raise OSError(errno.ENOSPC, "No space left on device")
        if path.name.startswith("boom"):
            raise RuntimeError("bug")

    write_stack(folder / "full.fits", 60)
    write_stack(folder / "boom.fits", 60)
    write_stack(folder / "good.fits", 60)
    w = FolderWatcher(folder, on_file, settle=0.2, interval=0.05, rescan=0.2,
                      on_error=lambda p, r: errors.append((p.name, r)))
    stop, th = _run(w)
    try:
        assert wait_until(lambda: len(calls) >= 3)
        time.sleep(1.5)  # several rescans: nothing is tried again
        assert sorted(calls) == ["boom.fits", "full.fits", "good.fits"]
        assert sorted(errors) == [("boom.fits", "bug"), ("full.fits", "No space left on device")]
        write_stack(folder / "full.fits", 120)  # a new version of the file is tried again
        assert wait_until(lambda: calls.count("full.fits") == 2)
    finally:
        stop.set()
        th.join(10)
    assert th.is_alive() is False
    err = capsys.readouterr().err
    assert err.count("full.fits: No space left on device (not retried)") == 2 and "Traceback" not in err


def test_watcher_records_failures_in_the_session_store_across_restarts(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "disk-full"
    marker.write_text("")
    monkeypatch.setenv("DSO_DISK_FULL", str(marker))
    s = session(tmp_path, [FlakyDetector()])
    folder = tmp_path / "in"
    write_stack(folder / "c_full.fits", 60)
    write_stack(folder / "boom.fits", 60)
    write_stack(folder / "ok.fits", 60)
    (folder / "broken.fits").write_bytes(b"SIMPLE  = not really")
    w = FolderWatcher(folder, s.process, is_done=s.is_done, exclude=[s.dir], settle=0.2, interval=0.05,
                      rescan=0.2)
    stop, th = _run(w)
    try:
        assert wait_until(lambda: s.store.count(None) >= 4)
    finally:
        stop.set()
        th.join(10)
    status = {Path(r["file"]).name: (r["status"], r.get("error", "")) for r in s.store.stacks(status=None)}
    assert status["ok.fits"][0] == "done"
    assert status["c_full.fits"] == ("failed", f"No space left on device ({folder / 'c_full.fits'})")
    assert status["boom.fits"] == ("failed", "detector bug on purpose")
    assert status["broken.fits"][0] == "failed"
    s.close()
    # Restart: nothing is tried again, even with the disk still "full".
    again = session(tmp_path, [FlakyDetector()])
    assert all(again.is_done(folder / n) for n in ("c_full.fits", "boom.fits", "broken.fits", "ok.fits"))
    again.close()


# ------------------------------------------------------------------ kill -9, end to end
_LAUNCH = ("import sys, dsodetect.cli as c; from test_hardening_live import FlakyDetector; "
           "orig = c.load_detector; "
           "c.load_detector = lambda m, o=(): FlakyDetector() if m == 'flaky' else orig(m, o); "
           "sys.argv[0] = 'dsodetect'; c.main()")


def _cli(folder, session_dir, marker):
    env = dict(os.environ, PYTHONPATH=f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               DSO_TOY_SLEEP="0.3", DSO_DISK_FULL=str(marker))
    return subprocess.Popen([sys.executable, "-c", _LAUNCH, "watch", str(folder), "--session", str(session_dir),
                             "--method", "flaky", "--no-desktop", "--settle", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)


def _rows(session_dir):
    return [(Path(p).name, st) for p, st in stack_rows(session_dir, "path, status")]


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_kill9_with_a_bad_file_and_a_full_disk_in_the_stream(tmp_path):
    folder, sess, marker = tmp_path / "in", tmp_path / "sess", tmp_path / "disk-full"
    folder.mkdir()
    marker.write_text("")
    good, bad = [], ["broken.fits", "c_full.fits", os.fsdecode(b"z\xff_full.fits")]
    proc = _cli(folder, sess, marker)
    try:
        for i in range(4):
            good.append(write_stack(folder / f"a{i}.fits", 60 * (i + 1), seed=i).name)
            time.sleep(0.1)
            if i == 1:
                (folder / "broken.fits").write_bytes(b"SIMPLE  = T" + b"\0" * 100)  # unreadable
                write_stack(folder / "c_full.fits", 300, seed=7)                   # fails: disk full
        assert wait_until(lambda: len(_rows(sess)) >= 2, timeout=30)
        proc.send_signal(signal.SIGKILL)  # in the middle of the batch
        proc.wait(10)
        n_before = len(_rows(sess))
        for i in range(3):  # arriving while the watcher is down, one with a non-UTF-8 name
            good.append(write_stack(folder / f"b{i}.fits", 600 + 60 * i, seed=10 + i).name)
        write_stack(Path(os.fsdecode(os.fsencode(folder) + b"/z\xff_full.fits")), 900, seed=20)
        proc = _cli(folder, sess, marker)
        assert wait_until(lambda: len(_rows(sess)) >= len(good) + len(bad), timeout=60)
        time.sleep(1.5)
        out2 = _stop(proc)
        # A third start with the disk still "full": nothing is tried again, no crash loop.
        proc = _cli(folder, sess, marker)
        assert wait_until(lambda: (sess / "session.json").exists(), timeout=20)
        time.sleep(3.0)
        assert proc.poll() is None  # still running
        out3 = _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    rows = _rows(sess)
    names = [n for n, _ in rows]
    assert n_before < len(good) + len(bad)                                  # the kill interrupted work
    assert sorted(n for n, st in rows if st == "done") == sorted(good)       # 0 lost
    assert sorted(n for n, st in rows if st == "failed") == sorted(db_text(b) for b in bad)
    assert len(names) == len(set(names))                                     # 0 duplicated
    snap = _strict((sess / "session.json").read_text())
    assert len(snap["stacks"]) == len(good)
    for text in (out2, out3):
        assert "Traceback" not in text
    assert "c_full.fits" not in out3 and "broken.fits" not in out3           # not retried on restart


def test_a_file_that_crashes_the_watcher_is_given_up_after_two_crashes(tmp_path):
    folder, sess, marker = tmp_path / "in", tmp_path / "sess", tmp_path / "no-marker"
    folder.mkdir()
    write_stack(folder / "a0.fits", 60)
    write_stack(folder / "crash.fits", 60)
    write_stack(folder / "z0.fits", 60)
    codes = []
    for attempt in range(2):  # dies on crash.fits each time (sorted order: a0, crash, z0)
        proc = _cli(folder, sess, marker)
        try:
            codes.append(proc.wait(60))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert codes == [-signal.SIGSEGV, -signal.SIGSEGV]
    proc = _cli(folder, sess, marker)  # third start: crash.fits is given up, the rest goes on
    try:
        assert wait_until(lambda: len(_rows(sess)) >= 3, timeout=60)
        time.sleep(1.0)
        assert proc.poll() is None
    finally:
        out = _stop(proc)
    assert sorted(_rows(sess)) == [("a0.fits", "done"), ("crash.fits", "failed"), ("z0.fits", "done")]
    assert "crash.fits: the watcher died 2 times" in out and "Traceback" not in out
