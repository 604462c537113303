"""Image input: every supported layout reads to the same float32 model; bad input fails with one clear line."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from dsodetect.io import ImageReadError, auto_stretch, debayer, iter_image_paths, read_image


def _scene(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.uniform(0.1, 0.9, size=(h, w, 3)).astype(np.float32)
    rgb[10:20, 10:30] = [0.9, 0.1, 0.1]  # a red patch to check channel order
    return rgb


def test_fits_mono_bzero_bscale(tmp_path):
    data = np.arange(64 * 80, dtype=np.float64).reshape(64, 80) * 3.0 + 1000.0
    hdu = fits.PrimaryHDU(data.copy())  # scale() rewrites the array in place
    hdu.scale("int16", bscale=3.0, bzero=1000.0 + 3.0 * 32768)
    hdu.writeto(tmp_path / "m.fits")
    img = read_image(tmp_path / "m.fits")
    assert img.data.dtype == np.float32 and img.shape == (64, 80)
    assert img.meta["dtype"] == "int16" and img.meta["bscale"] == 3.0
    np.testing.assert_allclose(img.data, data, rtol=1e-6)
    assert not img.stretched and img.name == "m"


@pytest.mark.parametrize("layout", ["chw", "hwc"])
def test_fits_rgb_cube_either_axis_order(tmp_path, layout):
    rgb = _scene()
    arr = np.moveaxis(rgb, -1, 0) if layout == "chw" else rgb
    fits.PrimaryHDU(arr).writeto(tmp_path / "c.fits")
    img = read_image(tmp_path / "c.fits")
    assert img.data.shape == (64, 80, 3)
    np.testing.assert_allclose(img.data, rgb)


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_bayer_mosaic_is_debayered_with_correct_colours(tmp_path, pattern):
    # Build a raw mosaic of a flat red field under the given filter pattern.
    h, w = 64, 80
    colour = {"R": 1000.0, "G": 100.0, "B": 10.0}
    cell = np.array(list(pattern)).reshape(2, 2)
    raw = np.empty((h, w))
    for dy in range(2):
        for dx in range(2):
            raw[dy::2, dx::2] = colour[cell[dy, dx]]
    hdr = fits.Header({"BAYERPAT": pattern})
    fits.PrimaryHDU(raw.astype(np.uint16), header=hdr).writeto(tmp_path / "raw.fits")
    img = read_image(tmp_path / "raw.fits")
    assert img.data.shape == (h, w, 3) and img.meta["bayer"] == pattern
    inner = img.data[4:-4, 4:-4]
    np.testing.assert_allclose(inner.reshape(-1, 3).mean(axis=0), [1000, 100, 10], rtol=0.02)


def test_bayer_offset_shifts_pattern():
    raw = np.zeros((32, 32))
    raw[0::2, 0::2], raw[0::2, 1::2], raw[1::2, 0::2], raw[1::2, 1::2] = 5, 50, 50, 500
    # The cell at (0, 0) holds 5: under BGGR that pixel is blue.
    rgb = debayer(raw, "BGGR")
    np.testing.assert_allclose(rgb[8:-8, 8:-8].reshape(-1, 3).mean(0), [500, 50, 5], rtol=0.02)
    shifted = debayer(raw, "GBRG", xoff=1)  # GBRG whose origin is one column over == BGGR
    np.testing.assert_allclose(shifted, rgb)


def test_fits_wcs_is_kept(tmp_path):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [202.47, 47.19]
    w.wcs.crpix = [40, 32]
    w.wcs.cdelt = [-0.0004, 0.0004]
    fits.PrimaryHDU(np.ones((64, 80), np.float32), header=w.to_header()).writeto(tmp_path / "w.fits")
    img = read_image(tmp_path / "w.fits")
    sky = img.wcs.pixel_to_world(39, 31)
    assert abs(sky.ra.deg - 202.47) < 1e-6 and abs(sky.dec.deg - 47.19) < 1e-6


def test_partial_nans_are_masked_and_filled(tmp_path):
    data = np.full((64, 80), 5.0, np.float32)
    data[:10] = np.nan
    fits.PrimaryHDU(data).writeto(tmp_path / "n.fits")
    img = read_image(tmp_path / "n.fits")
    assert img.mask[:10].all() and not img.mask[10:].any()
    assert np.isfinite(img.data).all() and img.data[0, 0] == 5.0


def test_8bit_jpeg_png_and_16bit_png_tiff(tmp_path):
    import cv2
    import tifffile

    rgb = _scene()
    u8 = (rgb * 255).round().astype(np.uint8)
    u16 = (rgb * 65535).round().astype(np.uint16)
    cv2.imwrite(str(tmp_path / "a.jpg"), u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    cv2.imwrite(str(tmp_path / "a.png"), u8[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "b.png"), u16[:, :, ::-1])
    tifffile.imwrite(tmp_path / "c.tif", u16)
    jpg, png8, png16, tif = (read_image(tmp_path / n) for n in ("a.jpg", "a.png", "b.png", "c.tif"))
    assert jpg.stretched and png8.stretched and not png16.stretched and not tif.stretched
    # JPEG is lossy (chroma subsampling): compare the interior of the flat red patch.
    np.testing.assert_allclose(jpg.data[12:18, 13:27].reshape(-1, 3).mean(0), [0.9, 0.1, 0.1], atol=0.04)
    np.testing.assert_allclose(png8.data, u8 / 255.0, atol=1e-6)
    np.testing.assert_allclose(png16.data, u16 / 65535.0, atol=1e-6)
    np.testing.assert_allclose(tif.data, u16 / 65535.0, atol=1e-6)
    assert png16.data[15, 15, 0] > 0.8 > png16.data[15, 15, 2]  # red stays red (BGR handled)


# ----------------------------------------------------------------- bad input
def _truncated_fits(p):
    fits.PrimaryHDU(np.ones((200, 200), np.float32)).writeto(p)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])


def _truncated_jpeg(p):
    import cv2

    cv2.imwrite(str(p), (np.random.default_rng(1).uniform(size=(200, 200, 3)) * 255).astype(np.uint8))
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 3])


def _huge_fits(p):
    # A header claiming a 100000 x 100000 image: rejected before any data is read.
    hdr = fits.Header()
    hdr["SIMPLE"], hdr["BITPIX"], hdr["NAXIS"] = True, 16, 2
    hdr["NAXIS1"], hdr["NAXIS2"] = 100000, 100000
    p.write_bytes(hdr.tostring().encode() + b"\0" * 2880)


BAD = {
    "empty.fits": (lambda p: p.write_bytes(b""), "empty file"),
    "trunc.fits": (_truncated_fits, "truncated"),
    "trunc.jpg": (_truncated_jpeg, "truncated"),
    "text.png": (lambda p: p.write_text("hello, not a picture"), "not an image"),
    "nan.fits": (lambda p: fits.PrimaryHDU(np.full((50, 50), np.nan, np.float32)).writeto(p), "no valid pixels"),
    "huge.fits": (_huge_fits, "too large"),
    "table.fits": (lambda p: fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="a", format="E", array=np.ones(3))])]).writeto(p), "no 2-D or 3-D image"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_gives_one_clear_line(tmp_path, name):
    make, reason = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)) and reason in msg


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.fits")


def test_iter_image_paths_keeps_named_files_and_filters_folders(tmp_path):
    (tmp_path / "a.fits").write_bytes(b"x")
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "c.JPG").write_bytes(b"x")
    got = list(iter_image_paths([tmp_path, tmp_path / "b.txt"]))
    assert [p.name for p in got] == ["a.fits", "c.JPG", "b.txt"]


def test_auto_stretch_maps_background_to_target():
    rng = np.random.default_rng(0)
    sky = rng.normal(1000, 10, size=(200, 200)).astype(np.float32)
    sky[100, 100] = 60000
    out = auto_stretch(sky)
    assert out.min() >= 0 and out.max() <= 1
    assert abs(float(np.median(out)) - 0.25) < 0.03
