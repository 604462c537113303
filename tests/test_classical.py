"""The classical detector on synthetic skies (no shared data needed).

Each test builds its image here: Gaussian stars of varied flux on noise, plus,
depending on the test, a faint extended red elliptical nebula, a compact
Sersic-like galaxy, or a black rotation wedge.
"""

from __future__ import annotations

import stat
import sys
import textwrap

import numpy as np
import pytest

from dsodetect.detection import boxes_array
from dsodetect.detectors import get_detector
from dsodetect.detectors.classical import ClassicalDetector
from dsodetect.detectors.classical.background import nodata_mask
from dsodetect.detectors.classical.starnet import StarNet, find_starnet
from dsodetect.io.image import Image
from dsodetect.postprocess import box_iou

SKY = 0.06
NOISE = 0.008
PSF_SIGMA = 1.3


def _stars(rng, h, w, n, psf=PSF_SIGMA):
    """Positions and peak amplitudes of ``n`` stars (a steep luminosity function)."""
    x = rng.uniform(5, w - 5, n)
    y = rng.uniform(5, h - 5, n)
    amp = 0.04 * (1.0 / rng.uniform(0.02, 1.0, n))  # 0.04 .. 2 (bright ones saturate)
    return x, y, np.minimum(amp, 3.0)


def _render_stars(img, x, y, amp, psf=PSF_SIGMA):
    h, w = img.shape[:2]
    r = int(np.ceil(5 * psf))
    for xi, yi, ai in zip(x, y, amp):
        x0, x1 = max(0, int(xi) - r), min(w, int(xi) + r + 1)
        y0, y1 = max(0, int(yi) - r), min(h, int(yi) + r + 1)
        gy, gx = np.mgrid[y0:y1, x0:x1]
        g = ai * np.exp(-((gx - xi) ** 2 + (gy - yi) ** 2) / (2 * psf ** 2))
        img[y0:y1, x0:x1] += g[..., None] if img.ndim == 3 else g


def make_sky(h=640, w=640, n_stars=700, seed=0):
    """Stretched-looking RGB sky in [0, 1] with stars; returns (rgb, star table)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), SKY, np.float32)
    img += rng.normal(0, NOISE, (h, w, 3)).astype(np.float32)
    x, y, amp = _stars(rng, h, w, n_stars)
    _render_stars(img, x, y, amp)
    return img, (x, y, amp)


def add_nebula(img, cx, cy, sx, sy, amp=0.05, angle=0.3):
    """Faint reddish elliptical Gaussian nebula (H-alpha-like colour)."""
    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    u = (gx - cx) * c + (gy - cy) * s
    v = -(gx - cx) * s + (gy - cy) * c
    neb = amp * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    img[:, :, 0] += neb
    img[:, :, 1] += 0.35 * neb
    img[:, :, 2] += 0.3 * neb
    return img


def add_galaxy(img, cx, cy, re=4.0, amp=0.5, q=0.7):
    """Compact exponential-disc (Sersic n=1) galaxy, slightly elongated."""
    h, w = img.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt((gx - cx) ** 2 + ((gy - cy) / q) ** 2)
    gal = amp * np.exp(-1.678 * r / re)
    img += gal[..., None] * np.array([1.0, 0.9, 0.75], np.float32)
    return img


def as_image(rgb, stretched=True):
    return Image(data=np.clip(rgb, 0, 1).astype(np.float32) if stretched else rgb.astype(np.float32),
                 stretched=stretched)


def true_box(cx, cy, sx, sy, k=2.0):
    return np.array([[cx - k * sx, cy - k * sy, cx + k * sx, cy + k * sy]])


@pytest.fixture(scope="module")
def detector():
    return ClassicalDetector()


# ---------------------------------------------------------------- interface
def test_registry_and_interface():
    det = get_detector("classical", star_remover="builtin")
    assert isinstance(det, ClassicalDetector)
    assert det.name == "classical"
    with pytest.raises(ValueError):
        ClassicalDetector(star_remover="magic")
    with pytest.raises(ValueError):
        ClassicalDetector(not_a_parameter=1)


def test_products_after_detect(detector):
    rgb, _ = make_sky(seed=1)
    img = as_image(add_nebula(rgb, 320, 300, 90, 60))
    res = detector.detect(img)
    prod = {k: p.data for k, p in res.products.items()}
    assert set(prod) >= {"starless", "star_mask", "diffuse_mask"}
    assert {k: p.kind for k, p in res.products.items()} == {"starless": "image", "star_mask": "mask",
                                                            "diffuse_mask": "mask"}
    assert prod["starless"].shape == img.data.shape and prod["starless"].dtype == np.float32
    assert prod["star_mask"].shape == img.shape and prod["star_mask"].dtype == bool
    assert prod["diffuse_mask"].shape == img.shape and prod["diffuse_mask"].dtype == bool


# -------------------------------------------------------------------- stars
def test_stars_are_removed_and_not_detected(detector):
    rgb, (x, y, amp) = make_sky(seed=2)
    img = as_image(rgb)
    res = detector.detect(img)
    dets = res.detections
    mask = res.products["star_mask"].data
    starless = res.products["starless"].data
    bright = amp > 10 * NOISE
    xi, yi = np.round(x[bright]).astype(int), np.round(y[bright]).astype(int)
    assert mask[yi, xi].mean() > 0.95, "bright stars must be masked"
    # Star peaks are gone from the starless image: back to sky level (+ noise).
    resid = starless[yi, xi].mean(axis=1) - SKY
    assert np.median(resid) < 3 * NOISE
    assert np.mean(resid < 0.05) > 0.9
    # A star field holds no object.
    assert all(d.score < detector.min_score + 0.15 for d in dets), \
        [(d.score, d.extras) for d in dets]


def test_pure_star_field_gives_no_confident_detection(detector):
    for seed in (3, 4):
        rgb, _ = make_sky(seed=seed, n_stars=1200)
        res = detector.detect(as_image(rgb))
        dets = res.detections
        assert not [d for d in dets if d.score >= 0.5]


def test_compact_galaxy_is_not_taken_for_a_star(detector):
    rgb, _ = make_sky(seed=5, n_stars=500)
    rgb = add_galaxy(rgb, 400.0, 250.0, re=5.0, amp=0.6)
    img = as_image(rgb)
    res = detector.detect(img)
    cat = detector.remove_stars(*detector.prepare(img))[0]
    d = np.hypot(cat.x - 400, cat.y - 250)
    i = int(np.argmin(d))
    assert d[i] < 3, "the galaxy must be detected as a source"
    assert not cat.is_star[i], "an extended source must not be classed as a star"
    assert not res.products["star_mask"].data[250, 400], "the galaxy must stay in the image"
    assert res.products["starless"].data[250, 400].mean() > SKY + 0.3


# ------------------------------------------------------------------ diffuse
@pytest.mark.parametrize("seed,cx,cy,sx,sy", [(6, 320, 300, 90, 60), (7, 230, 380, 70, 110)])
def test_extended_nebula_is_detected(detector, seed, cx, cy, sx, sy):
    rgb, _ = make_sky(seed=seed)
    img = as_image(add_nebula(rgb, cx, cy, sx, sy, amp=0.05))
    res = detector.detect(img)
    dets = res.detections
    assert dets, "the nebula must be found"
    best = max(dets, key=lambda d: d.score)
    iou = box_iou(boxes_array([best]), true_box(cx, cy, sx, sy))[0, 0]
    assert iou >= 0.5, (best, true_box(cx, cy, sx, sy))
    assert best.score >= detector.min_score
    assert res.products["diffuse_mask"].data[int(cy), int(cx)]


def test_black_wedge_is_no_data_and_not_detected(detector):
    rgb, _ = make_sky(seed=8)
    h, w = rgb.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w]
    wedge = gy < (0.35 * w - gx) * 0.6   # a rotation wedge in the top-left corner
    band = gx > w - 40                    # a black band along the right edge
    rgb[wedge | band] = 0.0
    img = as_image(rgb)
    nd = nodata_mask(img.data)
    assert nd[wedge | band].mean() > 0.97
    assert nd[~(wedge | band)].mean() < 0.02
    res = detector.detect(img)
    dets = res.detections
    assert not [d for d in dets if d.score >= 0.5]


def test_grey_wedge_is_no_data():
    rgb, _ = make_sky(seed=9)
    rgb[:, :120] = 36 / 255.0
    rgb = np.round(np.clip(rgb, 0, 1) * 255) / 255.0
    nd = nodata_mask(rgb.astype(np.float32))
    assert nd[:, :115].mean() > 0.97
    assert nd[:, 130:].mean() < 0.02


def test_clipped_black_sky_is_not_no_data():
    rgb, _ = make_sky(seed=10)
    rgb = np.where(rgb < 0.075, 0.0, rgb)  # the sky clipped to black, stars left
    nd = nodata_mask(np.round(rgb * 255).astype(np.float32) / 255)
    assert nd.mean() < 0.05


def test_full_frame_linear_runs():
    rng = np.random.default_rng(11)
    h, w = 2080, 3096
    data = rng.normal(1000.0, 20.0, (h, w, 3)).astype(np.float32)
    x, y, amp = _stars(rng, h, w, 3000)
    _render_stars(data, x, y, amp * 2000.0, psf=2.0)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    neb = 60.0 * np.exp(-0.5 * (((gx - 1500) / 300) ** 2 + ((gy - 900) / 200) ** 2))
    data[:, :, 0] += neb
    data[:, :, 1] += 0.3 * neb
    img = Image(data=data, stretched=False)
    det = ClassicalDetector()
    res = det.detect(img)
    dets = res.detections
    assert isinstance(dets, list)
    for d in dets:
        assert 0 <= d.x0 < d.x1 <= w and 0 <= d.y0 < d.y1 <= h
        assert 0.0 <= d.score <= 1.0
    # Products come at the working resolution: work_max px on the long side.
    sh, sw = res.products["star_mask"].data.shape
    assert sw == det.params.work_max and abs(sh - h * sw / w) <= 1
    assert res.products["starless"].data.shape == (sh, sw, 3)


def test_mono_image_runs(detector):
    rgb, _ = make_sky(seed=12)
    gray = add_nebula(rgb, 320, 320, 100, 80).mean(axis=2)
    res = detector.detect(as_image(gray))
    dets = res.detections
    assert isinstance(dets, list)
    assert res.products["starless"].data.shape == gray.shape


# ------------------------------------------------------------------ StarNet
def test_starnet_missing_binary_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("STARNET_BIN", raising=False)
    assert find_starnet() is None
    with pytest.raises(FileNotFoundError, match="STARNET_BIN"):
        ClassicalDetector(star_remover="starnet")
    monkeypatch.setenv("STARNET_BIN", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="not an executable"):
        StarNet()


def _fake_starnet(tmp_path, body):
    exe = tmp_path / "starnet++"
    exe.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def test_starnet_subprocess_glue(monkeypatch, tmp_path):
    # A stand-in StarNet++: reads the 16-bit TIFF, writes a "starless" one
    # (a 5x5 median), records its arguments and working directory.
    exe = _fake_starnet(tmp_path, f"""
        import os, sys
        import numpy as np, tifffile, cv2
        src, dst = sys.argv[1], sys.argv[2]
        img = tifffile.imread(src)
        assert img.dtype == np.uint16 and img.ndim == 3 and img.shape[2] == 3
        out = np.stack([cv2.medianBlur(img[:, :, c], 5) for c in range(3)], axis=2)
        tifffile.imwrite(dst, out)
        open({str(tmp_path / 'called.txt')!r}, 'w').write(os.getcwd() + '\\n' + ' '.join(sys.argv[1:]))
    """)
    monkeypatch.setenv("STARNET_BIN", str(exe))
    det = ClassicalDetector(star_remover="starnet")
    assert det._starnet.binary == exe.resolve()
    rgb, _ = make_sky(h=256, w=256, n_stars=150, seed=13)
    rgb = add_nebula(rgb, 128, 128, 40, 30, amp=0.08)
    res = det.detect(as_image(rgb))
    dets = res.detections
    called = (tmp_path / "called.txt").read_text().splitlines()
    assert called[0] == str(tmp_path)  # run from the binary's folder (weights live there)
    assert called[1].endswith("starless.tif")
    starless = res.products["starless"].data
    assert starless.shape == rgb.shape
    assert starless.max() < np.clip(rgb, 0, 1).max()  # star peaks flattened
    assert isinstance(dets, list)


def test_starnet_failure_is_reported(monkeypatch, tmp_path):
    exe = _fake_starnet(tmp_path, """
        import sys
        sys.stderr.write("CUDA error: no device\\n")
        sys.exit(3)
    """)
    monkeypatch.setenv("STARNET_BIN", str(exe))
    det = ClassicalDetector(star_remover="starnet")
    rgb, _ = make_sky(h=128, w=128, n_stars=40, seed=14)
    with pytest.raises(RuntimeError, match="exit code 3.*CUDA error"):
        det.detect(as_image(rgb))


def test_starnet_argument_template(monkeypatch, tmp_path):
    exe = _fake_starnet(tmp_path, "pass\n")
    monkeypatch.setenv("STARNET_BIN", str(exe))
    monkeypatch.setenv("STARNET_ARGS", "-i {input} -o {output}")
    sn = StarNet(stride=128)
    cmd = sn.command(tmp_path / "a.tif", tmp_path / "b.tif")
    assert cmd == [str(exe.resolve()), "-i", str(tmp_path / "a.tif"), "-o", str(tmp_path / "b.tif"), "128"]
