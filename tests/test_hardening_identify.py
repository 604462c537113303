"""Issue 13, `identify` and header numbers: an implausible header WCS is refused with its reason, a
failed hinted solve falls back to scale-only then blind, and no header number that is not finite
and plausible is ever used."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

import dsodetect.identify.solver as solver
from dsodetect.identify import Hint
from dsodetect.identify.hints import hint_from_header
from dsodetect.io import read_image
from dsodetect.io.headers import HeaderValueWarning, header_number, header_wcs_problem, integration_time


def _wcs_header(**cards):
    h = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 83.8, "CRVAL2": -5.4,
                     "CRPIX1": 40.0, "CRPIX2": 32.0, "CDELT1": -0.001, "CDELT2": 0.001})
    for k, v in cards.items():
        h[k] = v
    return h


def _write(tmp_path, header, name="f.fits"):
    rng = np.random.default_rng(0)
    fits.PrimaryHDU(rng.uniform(100, 200, (64, 80)).astype(np.float32), header=header).writeto(tmp_path / name)
    return tmp_path / name


BAD_WCS = {
    "ra-text": ({"CRVAL1": "abc"}, "CRVAL1 = 'abc' is not a number"),
    "ra-nan-text": ({"CRVAL1": "NaN"}, "CRVAL1 = 'NaN' is not a number"),
    "dec-out": ({"CRVAL2": 95.0}, "not a declination"),
    "tiny-scale": ({"CDELT1": 1e-12}, "pixel scale"),
    "huge-scale": ({"CDELT1": -5.0, "CDELT2": 5.0}, "pixel scale"),
    "crpix-text": ({"CRPIX1": "centre"}, "CRPIX1"),
    "ra-huge": ({"CRVAL1": 1e308}, "not a right ascension"),
}


@pytest.mark.parametrize("case", sorted(BAD_WCS))
def test_implausible_header_wcs_is_refused_with_reason(tmp_path, case):
    cards, reason = BAD_WCS[case]
    img = read_image(_write(tmp_path, _wcs_header(**cards)))
    assert img.wcs is None and reason in img.meta["wcs_rejected"]


def test_plausible_header_wcs_is_kept_and_used(tmp_path, monkeypatch):
    img = read_image(_write(tmp_path, _wcs_header()))
    assert img.wcs is not None and "wcs_rejected" not in img.meta
    assert header_wcs_problem(img.header, img.wcs) is None
    monkeypatch.setattr(solver, "solve_xy", lambda *a, **k: pytest.fail("solved although the header WCS is good"))
    sol = solver.solve(img)
    assert sol.ok and sol.source == "header" and sol.tried == ["header WCS: used"]


class FakeSolver:
    """Stands in for astrometry.net: solves only with the hints listed in ``works``."""

    def __init__(self, works, wcs):
        self.works, self.wcs, self.calls = works, wcs, []

    def __call__(self, stars, width, height, hint=None, **kw):
        hint = hint or Hint()
        kind = "+".join(k for k, v in (("position", hint.has_position), ("scale", hint.has_scale)) if v) or "blind"
        self.calls.append(kind)
        if kind in self.works:
            return solver.Solution(self.wcs, 1.0, 0.5, source="astrometry.net", hint=kind, n_stars=50, n_matched=20)
        return solver.Solution(None, 2.0, source="none", hint=kind, n_stars=50,
                               message=f"no astrometric solution found (50 stars, hint: {kind}, 2.0 s)")


@pytest.fixture
def good_wcs(tmp_path):
    return read_image(_write(tmp_path, _wcs_header(), "good.fits")).wcs


def _pointing_header(**cards):
    h = fits.Header({"RA": 10.0, "DEC": 41.0, "FOCALLEN": 250.0, "XPIXSZ": 2.9})
    for k, v in cards.items():
        h[k] = v
    return h


def test_wrong_pointing_falls_back_to_scale_then_blind(tmp_path, monkeypatch, good_wcs):
    img = read_image(_write(tmp_path, _pointing_header()))
    monkeypatch.setattr(solver, "extract_stars", lambda *a, **k: np.zeros((50, 3)))
    fake = FakeSolver({"blind"}, good_wcs)
    monkeypatch.setattr(solver, "solve_xy", fake)
    sol = solver.solve(img)
    assert fake.calls == ["position+scale", "scale", "blind"]
    assert sol.ok and sol.hint == "blind" and sol.seconds == pytest.approx(5.0)
    assert [t.split(":")[0] for t in sol.tried] == ["astrometry.net (position+scale)", "astrometry.net (scale)",
                                                   "astrometry.net (blind)"]
    assert sol.to_dict()["tried"][-1] == "astrometry.net (blind): solved"
    fake2 = FakeSolver({"scale"}, good_wcs)
    monkeypatch.setattr(solver, "solve_xy", fake2)
    assert solver.solve(img).hint == "scale" and fake2.calls == ["position+scale", "scale"]


def test_refused_header_wcs_is_reported_then_solved(tmp_path, monkeypatch, good_wcs):
    img = read_image(_write(tmp_path, _wcs_header(CRVAL1="abc")))
    monkeypatch.setattr(solver, "extract_stars", lambda *a, **k: np.zeros((50, 3)))
    fake = FakeSolver({"blind"}, good_wcs)
    monkeypatch.setattr(solver, "solve_xy", fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HeaderValueWarning)
        sol = solver.solve(img)
    assert sol.ok and sol.source == "astrometry.net"
    assert sol.tried[0].startswith("header WCS: refused (CRVAL1 = 'abc'")
    # The rejected CRVAL1 is not used as a pointing hint either.
    assert "position" not in fake.calls[0]


def test_all_attempts_failing_says_what_was_tried(tmp_path, monkeypatch, good_wcs):
    img = read_image(_write(tmp_path, _pointing_header()))
    monkeypatch.setattr(solver, "extract_stars", lambda *a, **k: np.zeros((50, 3)))
    monkeypatch.setattr(solver, "solve_xy", FakeSolver(set(), good_wcs))
    sol = solver.solve(img)
    assert not sol.ok and "position+scale" in sol.message and "blind" in sol.message
    assert solver.solve(img, fallback=False).tried == [
        "astrometry.net (position+scale): no solution (no astrometric solution found (50 stars, "
        "hint: position+scale, 2.0 s))"]


def test_attempts_share_one_time_budget(tmp_path, monkeypatch, good_wcs):
    img = read_image(_write(tmp_path, _pointing_header()))
    monkeypatch.setattr(solver, "extract_stars", lambda *a, **k: np.zeros((50, 3)))
    given = []

    def slow(stars, w, h, hint=None, timeout=60.0, **kw):
        given.append(timeout)
        return solver.Solution(None, timeout, message=f"no astrometric solution within {timeout:.0f} s")

    monkeypatch.setattr(solver, "solve_xy", slow)
    sol = solver.solve(img, timeout=60)
    assert not sol.ok and len(given) == 3
    assert given == pytest.approx([15.0, 15.75, 29.25]) and sum(given) == pytest.approx(60.0)


def test_no_retry_when_astrometry_is_missing(tmp_path, monkeypatch, good_wcs):
    img = read_image(_write(tmp_path, _pointing_header()))
    monkeypatch.setattr(solver, "extract_stars", lambda *a, **k: np.zeros((50, 3)))
    calls = []

    def missing(stars, w, h, hint=None, **kw):
        calls.append(1)
        return solver.Solution(None, message="astrometry.net is not installed: ...")

    monkeypatch.setattr(solver, "solve_xy", missing)
    assert not solver.solve(img).ok and len(calls) == 1


# ------------------------------------------------------------------ header numbers
@pytest.mark.parametrize("cards", [
    {"RA": "abc", "DEC": 41.0}, {"RA": "1E999", "DEC": 41.0}, {"RA": 10.0, "DEC": 95.0},
    {"RA": 10.0, "DEC": "NaN"}, {"RA": 1e308, "DEC": 0.0}, {"RA": True, "DEC": 0.0},
])
def test_bad_pointing_is_ignored_with_a_warning(cards):
    with pytest.warns(HeaderValueWarning):
        hint = hint_from_header(_raw_header(cards))
    assert not hint.has_position


@pytest.mark.parametrize("cards", [
    {"FOCALLEN": 0.0, "XPIXSZ": 2.9}, {"FOCALLEN": 1e308, "XPIXSZ": 2.9}, {"FOCALLEN": 250.0, "XPIXSZ": -3.0},
    {"FOCALLEN": "abc", "XPIXSZ": 2.9}, {"FOCALLEN": 250.0, "XPIXSZ": 1e6}, {"SCALE": 1e-12},
    {"SCALE": 1e308}, {"PIXSCALE": "nan"},
])
def test_bad_scale_is_ignored_with_a_warning(cards):
    with pytest.warns(HeaderValueWarning):
        hint = hint_from_header(fits.Header(cards))
    assert not hint.has_scale


def test_tiny_negative_ra_wraps_into_range():
    """Found by tests/test_fuzz.py: -1e-308 % 360 is 360.0 in floating point."""
    hint = hint_from_header(fits.Header({"RA": -1.1125369292536007e-308, "DEC": 0.0}))
    assert hint.has_position and 0.0 <= hint.ra < 360.0


def test_good_hint_still_read():
    hint = hint_from_header(fits.Header({"RA": 370.0 - 360.0, "DEC": -89.5, "FOCALLEN": 250.0, "XPIXSZ": 2.9}))
    assert hint.has_position and hint.has_scale and hint.scale_low < 2.39 < hint.scale_high


@pytest.mark.parametrize("cards", [
    {"EXPTIME": 1e308}, {"EXPTIME": "1E999"}, {"EXPTIME": -10.0}, {"EXPTIME": "NaN"},
    {"TOTALEXP": 1e308}, {"EXPTIME": 10.0, "STACKCNT": 1e300}, {"EXPTIME": 3e6, "STACKCNT": 1000},
    {"LIVETIME": True},
])
def test_absurd_exposure_never_becomes_a_number(cards):
    with pytest.warns(HeaderValueWarning):
        t = integration_time(_raw_header(cards))
    assert t is None or (np.isfinite(t) and 0 < t <= 3.6e6)


def test_header_number_ranges():
    h = fits.Header({"A": 250.0, "B": "12.5", "C": 5.0})
    assert header_number(h, "A", "focal_length") == 250.0
    assert header_number(h, "B", "pixel_size") == 12.5
    assert header_number(h, "MISSING", "exposure") is None
    assert header_number(h, "C", "dec") == 5.0
    with pytest.warns(HeaderValueWarning, match="C = 500.0 is not a plausible binning"):
        assert header_number({"C": 500.0}, "C", "binning") is None
    assert header_number({"X": float("inf")}, "X", "exposure", warn=False) is None


def test_numbers_written_as_text_in_a_file_are_parsed_and_checked():
    h = _raw_header({"EXPTIME": "1E999", "FOCALLEN": "250"})
    assert h["EXPTIME"] == float("inf")  # what astropy makes of the card: must not get through
    with pytest.warns(HeaderValueWarning):
        assert integration_time(h) is None


def _raw_header(cards) -> fits.Header:
    """A header parsed from card text, as read from a file (values written verbatim: 1E999 is legal text)."""
    text = ""
    for k, v in cards.items():
        if isinstance(v, str) and v.upper().startswith(("1E", "-1E")):
            value = v.rjust(20)
        elif isinstance(v, bool):
            value = ("T" if v else "F").rjust(20)
        elif isinstance(v, str):
            value = f"'{v:8s}'".ljust(20)
        else:
            value = repr(float(v)).upper().rjust(20)
        text += f"{k:8s}= {value}".ljust(80)
    text += "END".ljust(80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fits.Header.fromstring(text)


def test_wrong_header_pointing_is_recovered_by_astrometry_net():
    """With the real astrometry.net: a header RA/DEC 100 degrees off is retried without it and solved."""
    ok, why = solver.astrometry_status()
    if not ok:
        pytest.skip(why)
    from identify_testfield import render_field

    field = render_field(250.42, 36.46, preset="vespera", rotation_deg=37.0, flip=True, seed=4)
    image = field.image("hint")
    image.header["RA"], image.header["DEC"] = 130.0, -20.0
    sol = solver.solve(image, timeout=40)
    assert sol.ok, sol.message
    assert sol.hint in ("scale", "blind") and sol.tried[0].startswith("astrometry.net (position+scale): no solution")
    ra, dec = sol.center(*image.shape[::-1])
    assert abs(ra - 250.42) < 0.5 and abs(dec - 36.46) < 0.5
