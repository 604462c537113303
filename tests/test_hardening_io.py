"""Issue 13, image input: hostile names, permissions, memory budget and decompression bombs.

Every case must end in one printable :class:`ImageReadError` line (or a correct
read), quickly and without decoding more than the header promises.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from astropy.io import fits

import dsodetect.io.image as image_mod
from dsodetect.io import ImageReadError, read_image
from dsodetect.io.image import display_path, max_image_bytes

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="byte file names are a POSIX thing")


def _rgb(h=48, w=64, seed=0):
    return (np.random.default_rng(seed).uniform(0.1, 0.9, (h, w, 3)) * 255).astype(np.uint8)


def _fits_bytes(data, header=None) -> bytes:
    import io

    buf = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ file names
def _encoded(fmt, arr):
    ok, buf = cv2.imencode(fmt, arr)
    assert ok
    return buf.tobytes()


@posix_only
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".fits", ".fits.gz"])
def test_non_utf8_file_name_reads(tmp_path, suffix):
    import io

    import tifffile

    rgb = _rgb()
    if suffix in (".jpg", ".png"):
        raw = _encoded(suffix, rgb[:, :, ::-1])
    elif suffix == ".tif":
        buf = io.BytesIO()
        tifffile.imwrite(buf, rgb)
        raw = buf.getvalue()
    else:
        raw = _fits_bytes(rgb[:, :, 0].astype(np.float32))
        if suffix == ".fits.gz":
            raw = gzip.compress(raw)
    name = os.fsencode(tmp_path) + b"/bad\xff\xfe name" + suffix.encode()
    with open(name, "wb") as fh:
        fh.write(raw)
    for given in (name, Path(os.fsdecode(name)), os.fsdecode(name)):
        img = read_image(given)
        assert img.shape == (48, 64)
    # The stem keeps the undecodable bytes (as surrogates) so outputs can be named after it.
    assert os.fsencode(img.name).startswith(b"bad\xff\xfe name")


@posix_only
def test_error_on_non_utf8_or_control_character_name_is_one_printable_line(tmp_path):
    for raw_name in (b"trunc\xff.jpg", b"two\nlines.jpg", b"tab\tand\x1bescape.png"):
        p = os.fsencode(tmp_path) + b"/" + raw_name
        with open(p, "wb") as fh:
            fh.write(_encoded(".jpg", _rgb())[:200])
        with pytest.raises(ImageReadError) as info:
            read_image(p)
        msg = str(info.value)
        msg.encode("utf-8")  # printable: no lone surrogates
        assert "\n" not in msg and "\x1b" not in msg and "\t" not in msg
        assert msg.startswith(display_path(os.fsdecode(p)))
        assert info.value.path == os.fsdecode(p)  # the real path, to open it again
    assert display_path(os.fsdecode(b"/x/bad\xff.jpg")) == "/x/bad\\xff.jpg"
    assert display_path("/x/a\nb.jpg") == "/x/a\\nb.jpg"


# ------------------------------------------------------------------ permissions, odd files
def test_permission_denied_is_an_image_read_error(tmp_path, monkeypatch):
    p = tmp_path / "locked.jpg"
    p.write_bytes(_encoded(".jpg", _rgb()))

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(image_mod, "open", deny, raising=False)
    with pytest.raises(ImageReadError, match="locked.jpg: cannot open the file \\(permission denied\\)"):
        read_image(p)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_permission_denied_for_real(tmp_path):
    p = tmp_path / "locked.jpg"
    p.write_bytes(_encoded(".jpg", _rgb()))
    p.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="permission denied"):
            read_image(p)
    finally:
        p.chmod(0o644)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    p = tmp_path / "pipe.fits"
    os.mkfifo(p)
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(p)


def test_overlong_and_nul_names_are_image_read_errors(tmp_path):
    with pytest.raises(ImageReadError, match="cannot access|no such file"):
        read_image(tmp_path / ("x" * 300 + ".jpg"))
    with pytest.raises(ImageReadError):
        read_image(str(tmp_path / "a\0b.jpg"))


# ------------------------------------------------------------------ memory budget
def test_budget_refuses_before_decoding_every_format(tmp_path, monkeypatch):
    import tifffile

    rgb = np.zeros((400, 500, 3), np.uint8)
    rgb[::7, ::5] = 200
    (tmp_path / "a.png").write_bytes(_encoded(".png", rgb))
    (tmp_path / "a.jpg").write_bytes(_encoded(".jpg", rgb))
    tifffile.imwrite(tmp_path / "a.tif", rgb)
    (tmp_path / "a.fits").write_bytes(_fits_bytes(np.moveaxis(rgb, -1, 0).astype(np.float32)))
    (tmp_path / "a.fits.gz").write_bytes(gzip.compress(_fits_bytes(np.moveaxis(rgb, -1, 0).astype(np.int16))))
    need = 400 * 500 * 3 * 4
    decoded = []
    monkeypatch.setattr(image_mod, "_finish", lambda *a, **k: decoded.append(1))
    for name in ("a.png", "a.jpg", "a.tif", "a.fits", "a.fits.gz"):
        with pytest.raises(ImageReadError, match="too large for memory"):
            read_image(tmp_path / name, max_bytes=need - 1)
    assert decoded == []  # refused from the header, nothing decoded
    for name in ("a.png", "a.jpg", "a.tif", "a.fits", "a.fits.gz"):
        read_image(tmp_path / name, max_bytes=need)
    assert len(decoded) == 5


def test_budget_counts_channels_and_bayer(tmp_path):
    mono = np.zeros((400, 500), np.uint16)
    (tmp_path / "m.png").write_bytes(_encoded(".png", mono))
    assert read_image(tmp_path / "m.png", max_bytes=400 * 500 * 4).shape == (400, 500)
    hdr = fits.Header({"BAYERPAT": "RGGB"})
    (tmp_path / "raw.fits").write_bytes(_fits_bytes(mono, hdr))
    with pytest.raises(ImageReadError, match="500x400x3"):  # debayered to RGB: three planes
        read_image(tmp_path / "raw.fits", max_bytes=400 * 500 * 4)


def test_budget_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DSODETECT_MAX_IMAGE_MB", "1")
    assert max_image_bytes() == 1 << 20
    (tmp_path / "a.png").write_bytes(_encoded(".png", np.zeros((400, 500, 3), np.uint8)))
    with pytest.raises(ImageReadError, match="DSODETECT_MAX_IMAGE_MB"):
        read_image(tmp_path / "a.png")
    monkeypatch.setenv("DSODETECT_MAX_IMAGE_MB", "nonsense")
    monkeypatch.delenv("DSODETECT_MAX_IMAGE_MB")
    assert 0 < max_image_bytes() <= 2 << 30


def test_multi_page_tiff_counts_every_page(tmp_path):
    import tifffile

    stack = np.zeros((20, 100, 120), np.uint16)  # 20 pages, decoded together
    tifffile.imwrite(tmp_path / "s.tif", stack)
    with pytest.raises(ImageReadError, match="too large for memory"):
        read_image(tmp_path / "s.tif", max_bytes=100 * 120 * 4 * 10)


# ------------------------------------------------------------------ decompression bombs
_ZEROS = 16 << 20


@pytest.fixture(scope="module")
def zero_member():
    """One gzip member inflating to 16 MiB of zeros (16 KiB on disk): members concatenate."""
    return gzip.compress(b"\0" * _ZEROS, compresslevel=9)


def _primary_header(**cards) -> bytes:
    hdr = fits.Header()
    hdr["SIMPLE"], hdr["BITPIX"], hdr["NAXIS"] = True, 8, 0
    hdr["EXTEND"] = True
    for k, v in cards.items():
        hdr[k] = v
    return hdr.tostring().encode()


def test_gzip_bomb_of_padding_is_refused_at_once(tmp_path, zero_member):
    p = tmp_path / "bomb.fits.gz"
    with open(p, "wb") as fh:  # 4 GiB of zeros after a data-less primary header
        fh.write(gzip.compress(_primary_header()))
        for _ in range((4 << 30) // _ZEROS):
            fh.write(zero_member)
    assert p.stat().st_size < 8 << 20
    t0 = time.perf_counter()
    with pytest.raises(ImageReadError, match="no 2-D or 3-D image"):
        read_image(p)
    assert time.perf_counter() - t0 < 3.0  # inflating 4 GiB takes tens of seconds


def test_gzip_header_without_end_is_refused(tmp_path):
    card = fits.Card("COMMENT", "x" * 60).image.encode()
    body = b"SIMPLE  =                    T" + b" " * 50 + card * 100_000  # 8 MB of cards, no END
    p = tmp_path / "endless.fits.gz"
    p.write_bytes(gzip.compress(body))
    with pytest.raises(ImageReadError, match="no END card"):
        read_image(p)


def test_gzip_not_fits_and_huge_promises_are_refused(tmp_path, zero_member):
    (tmp_path / "junk.fits.gz").write_bytes(zero_member)
    with pytest.raises(ImageReadError, match="not a FITS file"):
        read_image(tmp_path / "junk.fits.gz")
    # A table extension promising 100 GB before the image: refused from its header.
    ext = fits.Header()
    ext["XTENSION"], ext["BITPIX"], ext["NAXIS"] = "BINTABLE", 8, 2
    ext["NAXIS1"], ext["NAXIS2"], ext["PCOUNT"], ext["GCOUNT"], ext["TFIELDS"] = 100_000, 1_000_000, 0, 1, 0
    p = tmp_path / "promise.fits.gz"
    p.write_bytes(gzip.compress(_primary_header() + ext.tostring().encode()) + zero_member)
    with pytest.raises(ImageReadError, match="too large for memory"):
        read_image(p)
    # A header claiming a 2-D image bigger than the budget.
    hdr = fits.Header()
    hdr["SIMPLE"], hdr["BITPIX"], hdr["NAXIS"], hdr["NAXIS1"], hdr["NAXIS2"] = True, 16, 2, 9000, 9000
    (tmp_path / "big.fits.gz").write_bytes(gzip.compress(hdr.tostring().encode()) + zero_member)
    with pytest.raises(ImageReadError, match="too large for memory"):
        read_image(tmp_path / "big.fits.gz", max_bytes=200 << 20)


def test_gzip_fits_with_image_in_extension_and_trailing_bytes(tmp_path, zero_member):
    import io

    data = np.arange(40 * 50, dtype=np.float32).reshape(40, 50)
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data)]).writeto(buf)
    p = tmp_path / "ext.fits.gz"
    p.write_bytes(gzip.compress(buf.getvalue()) + zero_member * 64)  # 1 GiB of junk after the image
    t0 = time.perf_counter()
    img = read_image(p)
    assert time.perf_counter() - t0 < 3.0
    np.testing.assert_array_equal(img.data, data)


def test_truncated_and_corrupt_gzip(tmp_path):
    raw = gzip.compress(_fits_bytes(np.ones((64, 64), np.float32)))
    (tmp_path / "cut.fits.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageReadError, match="truncated|corrupt"):
        read_image(tmp_path / "cut.fits.gz")
    bad = bytearray(raw)
    bad[30:40] = b"\xff" * 10
    (tmp_path / "bad.fits.gz").write_bytes(bytes(bad))
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "bad.fits.gz")


def test_bzip2_fits_is_refused(tmp_path):
    import bz2

    (tmp_path / "a.fits").write_bytes(bz2.compress(_fits_bytes(np.ones((64, 64), np.float32))))
    with pytest.raises(ImageReadError, match="bzip2"):
        read_image(tmp_path / "a.fits")


def test_hostile_fits_header_values(tmp_path):
    hdr = fits.Header({"BAYERPAT": "RGGB", "XBAYROFF": "abc", "YBAYROFF": 1e300})
    (tmp_path / "b.fits").write_bytes(_fits_bytes(np.ones((32, 32), np.uint16), hdr))
    assert read_image(tmp_path / "b.fits").data.shape == (32, 32, 3)
    raw = bytearray(_fits_bytes(np.ones((32, 32), np.uint16)))
    at = raw.index(b"NAXIS1  =")
    raw[at:at + 80] = fits.Card("NAXIS1", -5).image.encode()
    (tmp_path / "neg.fits").write_bytes(bytes(raw))
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "neg.fits")


def test_only_supported_formats_are_parsed(tmp_path, monkeypatch):
    """A broken third-party PIL plugin (one raising ImportError) never sees our files."""
    from PIL import Image as PILImage

    def broken(fp, filename=None):
        raise ModuleNotFoundError("No module named 'pi_heif'")

    PILImage.init()
    monkeypatch.setattr(PILImage, "ID", ["BROKEN"] + list(PILImage.ID))
    monkeypatch.setattr(PILImage, "OPEN", {**PILImage.OPEN, "BROKEN": (broken, lambda prefix: True)})
    # Some packages replace PIL.Image.open itself (ultralytics: it tries to install a HEIF plugin).
    monkeypatch.setattr(PILImage, "open", lambda *a, **k: broken(None))
    (tmp_path / "text.png").write_text("hello, not a picture")
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(tmp_path / "text.png")
    bmp = tmp_path / "a.bmp"
    PILImage.fromarray(_rgb()).save(bmp, format="BMP")
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(bmp)  # BMP is not a format dsodetect reads
    for suffix in (".png", ".jpg"):
        (tmp_path / f"a{suffix}").write_bytes(_encoded(suffix, _rgb()))
        assert read_image(tmp_path / f"a{suffix}").shape == (48, 64)


def test_iter_image_paths_never_raises_on_odd_inputs(tmp_path):
    from dsodetect.io import iter_image_paths

    (tmp_path / "a.fits").write_bytes(b"x")
    long = tmp_path / ("x" * 300)
    got = list(iter_image_paths([long, str(tmp_path / "a\0b"), tmp_path, os.fsencode(tmp_path / "a.fits")]))
    assert got[0] == long and got[2] == tmp_path / "a.fits" and got[3] == tmp_path / "a.fits"
    for p in got[:2]:
        with pytest.raises(ImageReadError):
            read_image(p)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cards", [{"NAXIS": 2**40}, {"NAXIS": 1000}, {"NAXIS": True}, {"NAXIS1": -5},
                                   {"NAXIS2": "many"}, {"BITPIX": 12}])
def test_absurd_axis_cards_are_refused_before_astropy_loops_on_them(tmp_path, gz, cards):
    """Found by tests/test_fuzz.py: astropy loops NAXIS times while opening, so NAXIS = 2**40 hung it."""
    raw = bytearray(_fits_bytes(np.ones((16, 16), np.int16)))
    end = raw.index(b"END" + b" " * 77)
    header = fits.Header.fromstring(bytes(raw[:end + 80]))
    for key, value in cards.items():
        header[key] = value
    blob = header.tostring().encode() + bytes(raw[-(-(end + 80) // 2880) * 2880:])
    p = tmp_path / ("h.fits.gz" if gz else "h.fits")
    p.write_bytes(gzip.compress(blob) if gz else blob)
    t0 = time.perf_counter()
    with pytest.raises(ImageReadError, match="corrupt FITS header"):
        read_image(p)
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize("gz", [False, True])
def test_tile_compressed_fits_reads_and_counts_against_the_budget(tmp_path, gz):
    import io

    data = np.random.default_rng(0).integers(0, 4000, (64, 80)).astype(np.int16)  # lossless
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(buf)
    p = tmp_path / ("c.fits.gz" if gz else "c.fits")
    p.write_bytes(gzip.compress(buf.getvalue()) if gz else buf.getvalue())
    np.testing.assert_array_equal(read_image(p).data, data)
    with pytest.raises(ImageReadError, match="80x64x1 needs"):
        read_image(p, max_bytes=64 * 80 * 4 - 1)
