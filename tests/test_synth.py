"""Synthetic sky renderer: physics, determinism, visibility labels, files, CLI."""

import numpy as np
import pytest

from dsodetect.synth import get_preset, pixel_scale, render_field, render_scene, write_sample
from dsodetect.synth.photometry import galactic_latitude, temperature_rgb
from dsodetect.synth.psf import add_point_sources
from dsodetect.synth.stars import cumulative_counts
from dsodetect.synth.visibility import cluster_box, generous_box, visible_mask


def test_pixel_scales_follow_focal_length_and_pixel_size():
    assert pixel_scale(200.0, 2.9) == pytest.approx(2.99, abs=0.01)
    assert get_preset("stellina").scale == pytest.approx(1.24, abs=0.01)
    assert get_preset("Seestar S50").scale == pytest.approx(2.39, abs=0.01)
    assert (get_preset("vespera").width, get_preset("vespera").height) == (1920, 1080)
    assert (get_preset("seestar").width, get_preset("seestar").height) == (1080, 1920)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("hubble")


def test_star_counts_rise_with_magnitude_and_towards_the_plane():
    m = np.arange(6, 21)
    n_pole, n_plane = cumulative_counts(m, 90.0), cumulative_counts(m, 0.0)
    assert np.all(np.diff(n_pole) > 0)
    assert np.all(n_plane > 3 * n_pole)
    assert 3 < cumulative_counts(10.0, 30.0) < 30  # ~8.5 per deg² on average


def test_galactic_latitude_of_known_points():
    assert galactic_latitude(192.85948, 27.12825) == pytest.approx(90.0, abs=1e-6)  # north galactic pole
    assert abs(galactic_latitude(266.405, -28.936)) < 0.1                             # galactic centre


def test_star_colours_white_for_the_sun_red_for_cool_stars():
    sun, cool, hot = temperature_rgb(np.array([5800.0, 3500.0, 15000.0]))
    assert np.allclose(sun, 1.0, atol=1e-6)
    assert cool[0] > cool[2] and hot[2] > hot[0]


def test_point_sources_keep_flux_and_fwhm():
    img = np.zeros((64, 64), np.float32)
    add_point_sources(img, np.array([31.3]), np.array([30.6]), np.array([1000.0]), fwhm=3.0, beta=3.5, half=15)
    assert img.sum() == pytest.approx(1000.0, rel=1e-3)
    y, x = np.unravel_index(np.argmax(img), img.shape)
    assert (x, y) == (31, 31)
    row = img[y]
    above = np.flatnonzero(row >= row.max() / 2)
    assert 2 <= above.size <= 4  # FWHM of 3 px, sampled on pixels


def test_render_is_deterministic_by_seed():
    a = render_scene("vespera", seed=5, integration_s=300, size=160)
    b = render_scene("vespera", seed=5, integration_s=300, size=160)
    c = render_scene("vespera", seed=6, integration_s=300, size=160)
    assert np.array_equal(a.jpeg, b.jpeg) and np.array_equal(a.linear, b.linear)
    assert [(d.x0, d.y0, d.x1, d.y1) for d in a.labels] == [(d.x0, d.y0, d.x1, d.y1) for d in b.labels]
    assert not np.array_equal(a.linear, c.linear)


def test_render_field_returns_the_documented_tuple():
    linear, jpeg, labels, header = render_field("stellina", seed=1, integration_s=120, size=(200, 150))
    assert linear.shape == (150, 200, 3) and linear.dtype == np.float32
    assert jpeg.shape == (150, 200, 3) and jpeg.dtype == np.uint8
    assert header["EXPTIME"] == 120.0 and header["FOCALLEN"] == 400.0 and header["XPIXSZ"] == 2.4
    assert header["CTYPE1"] == "RA---TAN"
    for d in labels:
        assert 0 <= d.x0 < d.x1 <= 200 and 0 <= d.y0 < d.y1 <= 150


def test_longer_integration_means_less_noise_same_sky():
    short = render_scene("vespera", seed=2, integration_s=60, size=128, kind="empty", artifacts=False)
    long = render_scene("vespera", seed=2, integration_s=3840, size=128, kind="empty", artifacts=False)
    # Same scene (sky, stars), so the difference is noise: 64x the subs -> 8x less noise.
    ratio = short.sigma_adu.mean() / long.sigma_adu.mean()
    assert ratio == pytest.approx(8.0, rel=0.05)
    med_s = np.median(short.linear, axis=(0, 1))
    med_l = np.median(long.linear, axis=(0, 1))
    assert np.allclose(med_s, med_l, rtol=0.05)
    # Measured noise: MAD of a star-free difference of neighbouring pixels.
    def mad_noise(x):
        d = np.diff(x[..., 1], axis=1)
        return 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
    assert mad_noise(short.linear) > 4 * mad_noise(long.linear)


def test_one_seed_is_one_sky_at_any_integration():
    a = render_scene("vespera", seed=42, integration_s=20, size=200, kind="galaxy")
    b = render_scene("vespera", seed=42, integration_s=3600, size=200, kind="galaxy")
    assert len(b.stars) > len(a.stars)  # the long stack goes deeper...
    bright_a, bright_b = a.stars.mag < 15, b.stars.mag < 15
    assert bright_a.sum() > 0 and np.allclose(a.stars.x[bright_a], b.stars.x[bright_b])  # ...on the same stars
    assert (a.objects[0].x, a.objects[0].y) == (b.objects[0].x, b.objects[0].y)
    assert a.header["CRVAL1"] == b.header["CRVAL1"] and a.params["look"] == b.params["look"]


def test_labels_follow_visibility_with_integration_time():
    n_short = n_long = 0
    for seed in range(6):
        kw = dict(size=256, kind="galaxy", bortle=6)
        n_short += len(render_scene("vespera", seed=seed, integration_s=10, **kw).labels)
        n_long += len(render_scene("vespera", seed=seed, integration_s=7200, **kw).labels)
    assert n_long > n_short


def test_visible_mask_threshold_in_units_of_sky_noise():
    light = np.zeros((60, 60, 3), np.float32)
    light[20:40, 20:40] = 5.0
    assert visible_mask(light, 1.0, threshold=3.0).sum() > 200
    assert not visible_mask(light, 1.0, threshold=8.0).any()
    assert not visible_mask(light, 3.0, threshold=3.0).any()
    box = generous_box((20, 20, 40, 40), 60, 60, pad=0.1)
    assert box[0] < 20 and box[2] > 40 and box[2] <= 60


def test_cluster_box_needs_members_above_the_field():
    rng = np.random.default_rng(0)
    x, y = 100 + rng.normal(0, 10, 40), 100 + rng.normal(0, 10, 40)
    snr = np.full(40, 50.0)
    assert cluster_box(x, y, snr, 100, 100, 40, field_snr=np.full(10, 50.0), field_area=200 * 200) is not None
    # A field as crowded with equally bright stars hides the cluster.
    assert cluster_box(x, y, snr, 100, 100, 40, field_snr=np.full(2000, 50.0), field_area=200 * 200) is None
    assert cluster_box(x, y, np.full(40, 2.0), 100, 100, 40) is None


def test_given_stars_land_at_their_wcs_position():
    from astropy.wcs import WCS

    ra, dec = 83.8, -5.4
    stars = [[ra + 0.01, dec + 0.005, 10.5, 0.6]]
    s = render_scene("vespera", seed=0, integration_s=300, size=200, ra=ra, dec=dec, rotation_deg=30.0,
                     stars=stars, kind="empty", artifacts=False)
    x, y = WCS(s.header).wcs_world2pix([stars[0][0]], [stars[0][1]], 0)
    lum = s.linear.mean(axis=2) - np.median(s.linear)
    py, px = np.unravel_index(np.argmax(lum), lum.shape)
    win = lum[py - 6:py + 7, px - 6:px + 7]
    yy, xx = np.mgrid[py - 6:py + 7, px - 6:px + 7]
    cx, cy = (win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()
    assert abs(cx - x[0]) < 0.3 and abs(cy - y[0]) < 0.3
    assert s.header["RA"] == pytest.approx(ra) and s.header["DEC"] == pytest.approx(dec)


def test_catalog_target_names_its_object():
    s = render_scene("stellina", seed=0, integration_s=3600, target="M57", size=300, bortle=4)
    names = [n for d in s.labels for n in d.extras.get("names", [])]
    assert "M57" in names
    kinds = {d.extras["kind"] for d in s.labels}
    assert "planetary_nebula" in kinds
    with pytest.raises(ValueError, match="unknown target"):
        render_scene("vespera", target="NoSuchThing123", size=64)


def test_write_sample_files_read_back(tmp_path):
    from dsodetect.dataset import read_labels
    from dsodetect.io import read_image

    res = write_sample(tmp_path / "a.jpg", preset="vespera", seed=3, integration_s=1800, size=192,
                       kind="planetary_nebula")
    assert res["fits"].name == "a.fits" and res["jpeg"].name == "a.jpg" and res["labels"].name == "a.txt"
    fits_img = read_image(res["fits"])
    assert fits_img.data.shape == (192, 192, 3) and fits_img.wcs is not None
    assert fits_img.header["EXPTIME"] == 1800.0
    assert np.allclose(fits_img.data, res["scene"].linear)
    jpg = read_image(res["jpeg"])
    assert jpg.stretched and np.array_equal((jpg.data * 255).round().astype(np.uint8), res["scene"].jpeg)
    boxes = read_labels(res["labels"], 192, 192)
    assert len(boxes) == len(res["scene"].labels)
    for b, d in zip(boxes, res["scene"].labels):
        assert b.x0 == pytest.approx(d.x0, abs=0.01) and b.y1 == pytest.approx(d.y1, abs=0.01)


def test_cli_render_and_errors(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    r = CliRunner().invoke(app, ["synth", "render", str(tmp_path / "x"), "--size", "96", "-t", "60"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "x.fits").exists() and (tmp_path / "x.jpg").exists() and (tmp_path / "x.txt").exists()
    r = CliRunner().invoke(app, ["synth", "render", str(tmp_path / "y"), "--preset", "hubble"])
    assert r.exit_code == 2 and "unknown preset" in r.output and "Traceback" not in r.output


def test_make_dataset_is_a_valid_yolo_set(tmp_path):
    from dsodetect.dataset import validate_dataset
    from dsodetect.synth.dataset import make_dataset

    counts = make_dataset(tmp_path / "ds", 3, size=96, seed=1)
    assert counts["images"] == 3
    rep = validate_dataset(tmp_path / "ds")
    assert rep.ok, rep.problems
    assert rep.n_images == 3 and rep.n_labelled == 3
    assert (tmp_path / "ds" / "manifest.csv").read_text().count("\n") == 4


def test_image_stats_measure_what_they_claim():
    from dsodetect.synth.stats import image_stats

    rng = np.random.default_rng(0)
    sky = np.full((300, 300, 3), 20.0) + rng.normal(0, 2.0, (300, 300, 1))
    few, many = sky.copy(), sky.copy()
    yy, xx = np.mgrid[0:300, 0:300]
    for img, n in ((few, 10), (many, 60)):
        for x, y in rng.uniform(15, 285, (n, 2)):
            img += (120 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5 ** 2)))[..., None]
    few[:, :40] = 0  # a black band: excluded from every statistic
    a, b = image_stats(np.clip(few, 0, 255)), image_stats(np.clip(many, 0, 255))
    assert a["bkg"] == pytest.approx(20, abs=1.5) and a["noise"] == pytest.approx(2.0, rel=0.2)
    assert b["stars_per_100k"] > 3 * a["stars_per_100k"] > 0
    assert a["fwhm"] == pytest.approx(2.355 * 1.5, rel=0.25)
    assert a["diffuse_frac"] < 0.05
    nebula = sky + (30 * np.exp(-((xx - 150) ** 2 + (yy - 150) ** 2) / (2 * 60 ** 2)))[..., None]
    assert image_stats(np.clip(nebula, 0, 255))["diffuse_frac"] > 0.2


def test_wcs_is_tan_east_left_north_up_at_rotation_zero():
    from dsodetect.synth import make_wcs

    w = make_wcs(180.0, 30.0, 2.99, 640, 480, rotation_deg=0.0)
    x0, y0 = w.wcs_world2pix([180.0], [30.0], 0)
    assert (x0[0], y0[0]) == pytest.approx((319.5, 239.5))
    x1, _ = w.wcs_world2pix([180.01], [30.0], 0)
    _, y2 = w.wcs_world2pix([180.0], [30.01], 0)
    assert x1[0] < x0[0] and y2[0] > y0[0]
    assert (y2[0] - y0[0]) * 2.99 == pytest.approx(36.0, rel=1e-3)  # 0.01 deg = 36 arcsec
