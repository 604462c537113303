"""The live session never waits for plate solving: solved once per field in the background, reused, failures said once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from astropy.wcs import WCS

from dsodetect.detection import Detection
from dsodetect.identify.match import identify as builtin_identify
from dsodetect.identify.solver import Solution
from dsodetect.live import LiveSession, SessionConfig
from dsodetect.live.notify import Notifier
from dsodetect.live.session import FieldSolver
from test_live_support import write_stack


class Fixed:
    name = "fixed"

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image):
        return [Detection(*b, score=0.8) for b in self.boxes]


def _m51_wcs(w=320, h=240, scale_arcsec=5.0, at=(80, 60)):
    from dsodetect.identify.catalog import lookup

    m51 = lookup("M 51")
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [m51.ra, m51.dec]
    wcs.wcs.crpix = [at[0] + 1, at[1] + 1]  # M 51 off the frame centre: confirmed by its name only
    wcs.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    wcs.pixel_shape = (w, h)
    return wcs


def _session(tmp_path, solve_fn, box=(90, 50, 230, 190), **cfg):
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    config = SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in", **cfg)
    s = LiveSession(config, [Fixed([box])], notifier=Notifier(desktop=False), identify=builtin_identify)
    messages = []
    s.field_solver = FieldSolver(solve_fn, timeout=60, on_message=messages.append)
    return s, messages


def test_every_solve_fails_yet_stacks_flow_within_3_s(tmp_path):
    release = threading.Event()
    calls = []

    def failing_solve(image, timeout):  # astrometry.net grinding for a minute, then giving up
        calls.append(time.monotonic())
        release.wait(61)
        return Solution(None, seconds=61.0, message="no solution within 60 s")

    s, messages = _session(tmp_path, failing_solve, target="Whirlpool Galaxy")
    try:
        times = []
        for i, t in enumerate([300, 600, 900]):  # solve still running
            t0 = time.monotonic()
            out = s.process(write_stack(tmp_path / "in" / f"a{i}.fits", t, seed=i))
            times.append(time.monotonic() - t0)
            assert out.status == "done"
        assert s.field_solver.state == "solving" and len(calls) == 1
        release.set()
        s.field_solver.wait(5)
        assert s.field_solver.state == "failed"
        assert len(messages) == 1 and messages[0].startswith("plate solve failed on a0.fits")
        assert "until the field changes" in messages[0]
        for i, t in enumerate([1200, 1500], start=3):  # the same field: not retried
            t0 = time.monotonic()
            out = s.process(write_stack(tmp_path / "in" / f"a{i}.fits", t, seed=i))
            times.append(time.monotonic() - t0)
            assert out.status == "done"
        assert len(calls) == 1
        assert max(times) < 3.0, times
        snap = s.snapshot()
        assert len(snap["stacks"]) == 5
        # Unnamed, yet the centred target is still confirmed by the frame-centre rule.
        assert snap["target"]["confirmed"]
    finally:
        release.set()
        s.close()


def test_a_new_field_is_solved_again(tmp_path):
    calls = []

    def failing_solve(image, timeout):
        calls.append(image.shape)
        return Solution(None, message="too few stars")

    s, messages = _session(tmp_path, failing_solve)
    try:
        s.process(write_stack(tmp_path / "in" / "a.fits", 300))
        s.field_solver.wait(5)
        s.process(write_stack(tmp_path / "in" / "b.fits", 600))
        s.field_solver.wait(5)
        assert len(calls) == 1
        s.process(write_stack(tmp_path / "in" / "c.fits", 900, shape=(200, 300)))  # another frame: another field
        s.field_solver.wait(5)
        assert len(calls) == 2 and len(messages) == 2
    finally:
        s.close()


def test_field_solved_once_then_names_every_stack_and_confirms_a_common_name_target(tmp_path, capsys):
    calls = []

    def solve(image, timeout):
        calls.append(1)
        return Solution(_m51_wcs(), seconds=0.4, source="astrometry.net")

    s, messages = _session(tmp_path, solve, box=(20, 10, 140, 110), target="Whirlpool")
    try:
        first = s.process(write_stack(tmp_path / "in" / "a.fits", 300))
        assert "names" not in first.record["methods"]["fixed"]["detections"][0].get("extras", {})  # not solved yet
        assert not s.snapshot()["target"]["confirmed"]
        s.field_solver.wait(5)
        assert s.field_solver.state == "solved" and messages[0].startswith("field solved from a.fits")
        outs = [s.process(write_stack(tmp_path / "in" / f"b{i}.fits", 600 + 300 * i, seed=i)) for i in range(3)]
        assert len(calls) == 1  # solved once, reused
        for out in outs:
            det = out.record["methods"]["fixed"]["detections"][0]
            assert det["extras"]["names"][0] == "Whirlpool Galaxy (M 51)"
        snap = s.snapshot()
        assert snap["target"]["confirmed"]
        confirmed = [e for e in snap["events"] if e["kind"] == "target_confirmed"]
        assert confirmed and "Whirlpool" in confirmed[0]["title"]
    finally:
        s.close()


def test_star_registration_follows_a_small_shift():
    rng = np.random.default_rng(1)
    ref = rng.uniform(0, 300, (30, 2))
    assert FieldSolver._offset(ref, ref + [1.5, -2.0]) == pytest.approx((1.5, -2.0))
    assert FieldSolver._offset(ref, rng.uniform(0, 300, (30, 2))) is None  # other stars: another field


def test_a_slow_custom_hook_is_given_up_on(tmp_path):
    release = threading.Event()

    def slow_hook(image, detections):
        release.wait(30)
        for d in detections:
            d.extras["names"] = ["late"]

    (tmp_path / "in").mkdir()
    config = SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in", hook_timeout=0.5)
    s = LiveSession(config, [Fixed([(90, 50, 230, 190)])], notifier=Notifier(desktop=False), identify=slow_hook)
    try:
        t0 = time.monotonic()
        out = s.process(write_stack(tmp_path / "in" / "a.fits", 300))
        assert time.monotonic() - t0 < 3.0
        assert "names" not in out.record["methods"]["fixed"]["detections"][0].get("extras", {})
        t0 = time.monotonic()  # the hook is still stuck: the next stack does not wait for it at all
        out = s.process(write_stack(tmp_path / "in" / "b.fits", 600))
        assert time.monotonic() - t0 < 0.5 + 1.0 and out.status == "done"
    finally:
        release.set()
        s.close()


def test_field_solver_as_a_pipeline_identifier_never_blocks(tmp_path):
    from dsodetect.io import read_image
    from dsodetect.pipeline import process

    release = threading.Event()

    def slow_solve(image, timeout):
        release.wait(30)
        return Solution(_m51_wcs(), source="astrometry.net")

    solver = FieldSolver(slow_solve, on_message=None)
    image = read_image(write_stack(tmp_path / "a.fits", 300))
    t0 = time.monotonic()
    result = process(image, Fixed([(20, 10, 140, 110)]), identifier=solver.as_identifier())
    assert time.monotonic() - t0 < 3.0 and result.identification is None
    release.set()
    solver.wait(5)
    result = process(image, Fixed([(20, 10, 140, 110)]), identifier=solver.as_identifier())
    assert result.detections[0].extras["names"][0] == "Whirlpool Galaxy (M 51)"


def test_a_target_opengc_lacks_is_confirmed_by_the_frame_centre(tmp_path, capsys):
    def names_it_otherwise(image, detections):
        for d in detections:
            d.extras["names"] = ["NGC 1234"]  # a small galaxy inside the big faint nebula

    (tmp_path / "in").mkdir()
    config = SessionConfig(session_dir=tmp_path / "sess", root=tmp_path / "in", target="Spaghetti Nebula")
    s = LiveSession(config, [Fixed([(90, 50, 230, 190)])], notifier=Notifier(desktop=False),
                    identify=names_it_otherwise)
    try:
        assert "Spaghetti Nebula (Sh2-240) (not in OpenNGC" in capsys.readouterr().out
        out = s.process(write_stack(tmp_path / "in" / "a.fits", 600))
        assert "target_confirmed" in [e["kind"] for e in out.events]
    finally:
        s.close()
    config = SessionConfig(session_dir=tmp_path / "sess2", root=tmp_path / "in", target="Horsehed")
    s = LiveSession(config, [Fixed([(90, 50, 230, 190)])], notifier=Notifier(desktop=False))
    assert "not a name in OpenNGC" in capsys.readouterr().out
    s.close()
