"""Fuzzing (hypothesis) of everything that parses untrusted input.

Each reader must either return a well-formed result or raise the package's
documented error -- :class:`~dsodetect.io.ImageReadError` for images,
``ValueError`` for a label line -- never anything else, never hang, never
print a traceback. Header readers must never raise and never return a number
that is not finite and plausible.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dsodetect.evaluation import parse_label_line, read_label_file  # noqa: E402
from dsodetect.identify.hints import hint_from_header  # noqa: E402
from dsodetect.io import Image, ImageReadError, read_image  # noqa: E402
from dsodetect.io.headers import PLAUSIBLE, header_number, header_wcs_problem, integration_time  # noqa: E402
from dsodetect.web.server import safe_path  # noqa: E402

# No example database in the working tree; no deadline on a loaded 2-core machine. Deterministic
# by default, so the suite passes or fails the same way everywhere; DSODETECT_FUZZ_RANDOM=1 explores
# new examples on every run (with --hypothesis-seed=N to replay one).
FUZZ = settings(max_examples=120, deadline=None, database=None,
                derandomize=not os.environ.get("DSODETECT_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
MORE = settings(FUZZ, max_examples=300)
BUDGET = 64 << 20  # small, so that random headers claiming big images are refused, not allocated

SUFFIXES = [".fits", ".fits.gz", ".jpg", ".png", ".tif", ".fit", ".bin"]


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="dsodetect-fuzz-") as d:
        yield Path(d)


def _check_read(path):
    try:
        img = read_image(path, max_bytes=BUDGET)
    except ImageReadError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.strip()
        msg.encode("utf-8")
        return None
    assert isinstance(img, Image)
    assert img.data.dtype == np.float32 and img.data.ndim in (2, 3)
    assert np.isfinite(img.data).all()
    assert img.mask.shape == img.data.shape[:2]
    return img


def _samples() -> dict:
    """Small valid files of every format, to truncate and corrupt."""
    import cv2
    import tifffile

    rgb = (np.random.default_rng(0).uniform(0, 255, (24, 32, 3))).astype(np.uint8)
    out = {".jpg": cv2.imencode(".jpg", rgb)[1].tobytes(), ".png": cv2.imencode(".png", rgb)[1].tobytes(),
           ".png16": cv2.imencode(".png", rgb.astype(np.uint16) * 200)[1].tobytes()}
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb)
    out[".tif"] = buf.getvalue()
    buf = io.BytesIO()
    hdr = fits.Header({"BAYERPAT": "RGGB", "EXPTIME": 10.0, "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN",
                       "CRVAL1": 10.0, "CRVAL2": 20.0, "CRPIX1": 16.0, "CRPIX2": 12.0, "CDELT1": -0.001,
                       "CDELT2": 0.001})
    fits.PrimaryHDU(rgb[:, :, 0].astype(np.int16), header=hdr).writeto(buf)
    out[".fits"] = buf.getvalue()
    out[".fits.gz"] = gzip.compress(out[".fits"])
    return out


SAMPLES = _samples()


@MORE
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(workdir, data, suffix):
    path = workdir / f"random{suffix}"
    path.write_bytes(data)
    _check_read(path)


@MORE
@given(kind=st.sampled_from(sorted(SAMPLES)), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_truncated_and_corrupted_real_files(workdir, kind, cut, flips):
    raw = bytearray(SAMPLES[kind])
    for where, value in flips:
        raw[min(int(where * len(raw)), len(raw) - 1)] = value
    raw = bytes(raw[: max(1, int(cut * len(raw)))]) if cut < 1 else bytes(raw)
    suffix = ".png" if kind == ".png16" else kind
    path = workdir / f"cut{suffix}"
    path.write_bytes(raw)
    _check_read(path)


# FITS headers with hostile values in the cards that matter to the reader.
_VALUES = st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
                    st.booleans())
_CARDS = ["NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "BITPIX", "BZERO", "BSCALE", "BAYERPAT", "XBAYROFF",
          "YBAYROFF", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2", "CRPIX1", "CTYPE1", "CTYPE2", "EXTEND"]


@MORE
@given(cards=st.dictionaries(st.sampled_from(_CARDS), _VALUES, max_size=5), gz=st.booleans())
def test_fits_with_hostile_header_values(workdir, cards, gz):
    raw = bytearray(SAMPLES[".fits"])
    end = raw.index(b"END" + b" " * 77)
    header = fits.Header.fromstring(bytes(raw[:end + 80]))
    for key, value in cards.items():
        try:
            header[key] = value
        except (ValueError, TypeError):
            continue
    head = header.tostring().encode()
    data = bytes(raw[-(-(end + 80) // 2880) * 2880:])
    blob = head + data
    path = workdir / ("h.fits.gz" if gz else "h.fits")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_read(path)


# ------------------------------------------------------------------ labels
_NUMBERISH = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 5).map(str),
                       st.sampled_from(["nan", "inf", "-inf", "1e999", "0x10", "", "abc", "1,5", "½", "0.5e"]),
                       st.text(max_size=6))


@FUZZ
@given(fields=st.lists(_NUMBERISH, max_size=8), sep=st.sampled_from([" ", "\t", "  "]))
def test_label_line_parser(fields, sep):
    line = sep.join(fields)
    try:
        entry = parse_label_line(line)
    except ValueError as exc:
        assert str(exc)
        return
    if entry is None:
        assert not line.split()
        return
    cls, xc, yc, w, h, score = entry
    assert isinstance(cls, int) and cls >= 0
    for v in (xc, yc, w, h):
        assert math.isfinite(v) and 0 <= v <= 1
    assert w > 0 and h > 0
    assert score is None or (math.isfinite(score) and 0 <= score <= 1)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_label_file_reader_never_raises(workdir, data):
    path = workdir / "labels.txt"
    path.write_bytes(data)
    dets, rejected = read_label_file(path, 640, 480)
    for d in dets:
        assert all(math.isfinite(v) for v in (d.x0, d.y0, d.x1, d.y1, d.score))
        assert d.x1 > d.x0 and d.y1 > d.y0 and 0 <= d.score <= 1
    for r in rejected:
        text = str(r)
        assert "\n" not in text and text.startswith(str(path))


# ------------------------------------------------------------------ headers
_HEADER_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                           st.text(max_size=20), st.booleans(), st.none())
_HEADER_KEYS = ["EXPTIME", "EXPOSURE", "TOTALEXP", "LIVETIME", "SUBEXP", "STACKCNT", "NCOMBINE", "NSTACK",
                "RA", "DEC", "OBJCTRA", "OBJCTDEC", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2",
                "CD1_1", "CD2_2", "CTYPE1", "CTYPE2", "FOCALLEN", "XPIXSZ", "PIXSIZE1", "XBINNING", "SCALE"]


@FUZZ
@given(cards=st.dictionaries(st.sampled_from(_HEADER_KEYS), _HEADER_VALUES, max_size=10))
def test_header_readers_never_raise_nor_return_absurd_numbers(cards):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = integration_time(cards)
        assert t is None or (math.isfinite(t) and 0 < t <= PLAUSIBLE["exposure"][1])
        hint = hint_from_header(cards)
        if hint.has_position:
            assert 0 <= hint.ra < 360 and -90 <= hint.dec <= 90
        if hint.has_scale:
            assert math.isfinite(hint.scale_low) and 0 < hint.scale_low < hint.scale_high < 1e4
        for key in cards:
            for kind in PLAUSIBLE:
                v = header_number(cards, key, kind)
                assert v is None or (math.isfinite(v) and PLAUSIBLE[kind][0] <= v <= PLAUSIBLE[kind][1])
        problem = header_wcs_problem(cards)
        assert problem is None or isinstance(problem, str)


# ------------------------------------------------------------------ served paths
_PARTS = st.sampled_from(["a.json", "..", ".", "", ".hidden", "sub", "a.json\x00", "~", "%2e%2e", "\\",
                          "a" * 300, "link", "/etc/passwd", ".secret.json"])


@FUZZ
@given(requested=st.one_of(st.text(max_size=400), st.lists(_PARTS, max_size=6).map("/".join)))
def test_safe_path_never_raises_nor_escapes(workdir, requested):
    import os

    root = workdir / "served"
    if not root.exists():
        (root / "sub").mkdir(parents=True)
        (root / "a.json").write_text("{}")
        (root / ".secret.json").write_text("{}")
        (root / "sub" / "a.json").write_text("{}")
        os.symlink(root / ".secret.json", root / "link")
    got = safe_path(root, requested)
    if got is None:
        return
    assert got.is_relative_to(root.resolve()) and not any(p.startswith(".") for p in got.relative_to(
        root.resolve()).parts)
