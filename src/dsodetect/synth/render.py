"""Assemble a synthetic smart-telescope stack: sky, stars, objects, sensor, app look, labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..detection import Detection
from ..io.wcs import pixel_angle
from ..io.wcs import tan_wcs as make_wcs  # public here too: the simulator's WCS
from ..telescopes import Preset, get_preset
from . import objects as O
from .catalog import CatalogObject, field_objects, lookup_target
from .look import AppLook, app_stretch, jpeg_roundtrip, random_look
from .photometry import (bv_to_temperature, flux_e_s, galactic_latitude, mag_from_surface_brightness,
                         temperature_rgb)
from .psf import moffat_alpha
from .sky import (add_hot_pixels, add_satellite_trail, amp_glow, saturate_and_bleed, sky_background,
                  stack_noise, vignetting)
from .stars import StarField, random_stars, render_stars, sample_bv
from .visibility import box_from_mask, cluster_box, generous_box, to_detection, visible_mask

__all__ = ["Scene", "SynthField", "render_scene", "render_field", "write_sample", "make_wcs",
           "SCENE_WEIGHTS", "PEDESTAL_ADU"]

#: Main-object mix of random scenes (close to the real tiles: one object each, mostly).
SCENE_WEIGHTS = {
    "galaxy": 0.25, "emission_nebula": 0.42, "reflection_nebula": 0.05, "planetary_nebula": 0.08,
    "globular_cluster": 0.08, "open_cluster": 0.08, "empty": 0.04,
}

#: Bias offset of the linear FITS, ADU.
PEDESTAL_ADU = 100.0

#: Depth (in 10 s subs: 4 h) to which every scene is drawn, whatever its integration.
DEEP_SUBS = 1440

_BORTLE_WEIGHTS = np.array([0.05, 0.15, 0.25, 0.25, 0.15, 0.1, 0.05])  # classes 3..9


class SynthField(NamedTuple):
    """What :func:`render_field` returns."""

    linear: np.ndarray        # (H, W, 3) float32 ADU, mean of the subs plus pedestal
    jpeg: np.ndarray          # (H, W, 3) uint8, decoded app JPEG
    labels: list              # list[Detection], boxes of the visible objects
    header: object            # astropy.io.fits.Header with EXPTIME, FOCALLEN, XPIXSZ, RA/DEC, TAN WCS


@dataclass
class Scene:
    """Everything about one rendered field (see :func:`render_scene`)."""

    linear: np.ndarray
    jpeg: np.ndarray
    jpeg_bytes: bytes
    labels: list[Detection]
    header: object
    objects: list = field(default_factory=list)
    stars: StarField | None = None
    sigma_adu: np.ndarray | None = None  # per-channel sky noise of ``linear`` (ADU)
    params: dict = field(default_factory=dict)

    def as_field(self) -> SynthField:
        """The ``(linear, jpeg, labels, header)`` tuple of :func:`render_field`."""
        return SynthField(self.linear, self.jpeg, self.labels, self.header)


def _random_pointing(rng, near_plane: bool):
    """RA/Dec uniform on the visible (dec > -30) sky, either within ~10 deg of the galactic
    plane (where nebulae and open clusters are, and the star fields are rich) or away from it."""
    b_max = rng.exponential(5.0) + 1.0
    for _ in range(100):
        ra = rng.uniform(0, 360, 256)
        dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30)), 1.0, 256)))
        b = galactic_latitude(ra, dec)
        ok = np.abs(b) < b_max if near_plane else np.abs(b) > 20
        if ok.any():
            i = int(np.flatnonzero(ok)[0])
            return float(ra[i]), float(dec[i])
    return float(ra[0]), float(dec[0])


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _random_objects(rng, frame, kind, m_faint, near_plane=False):
    """The main object of a random scene (plus small companions for galaxy fields)."""
    w, h, s = frame.width, frame.height, frame.scale
    side = min(w, h) * s  # frame side in arcsec
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    out = []
    if kind == "galaxy":
        re = _loguniform(rng, 0.03, 0.18) * side  # arcsec
        q = float(rng.uniform(0.15, 1.0))
        mu_e = rng.uniform(20.0, 22.2)
        mag = float(mag_from_surface_brightness(mu_e, 2 * np.pi * re ** 2 * q))
        out.append(O.make_galaxy(rng, frame, cx, cy, mag=mag, re_px=re / s, q=q))
        for _ in range(int(rng.random() < 0.4)):  # a faint field galaxy
            re2 = _loguniform(rng, 0.004, 0.02) * side
            q2 = float(rng.uniform(0.2, 1.0))
            mag2 = float(mag_from_surface_brightness(rng.uniform(21.5, 23.5), 2 * np.pi * re2 ** 2 * q2))
            out.append(O.make_galaxy(rng, frame, rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.95) * h,
                                     mag=mag2, re_px=re2 / s, q=q2))
    elif kind == "emission_nebula":
        r = _loguniform(rng, 0.12, 0.9) * side
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        out.append(O.make_emission_nebula(rng, frame, cx, cy, radius_px=r / s, mu_peak=rng.uniform(20.0, 23.0)))
        if rng.random() < 0.4:  # a second, fainter cloud elsewhere in the complex
            out.append(_faint_cloud(rng, frame))
    elif kind == "reflection_nebula":
        r = _loguniform(rng, 0.06, 0.35) * side
        out.append(O.make_reflection_nebula(rng, frame, cx, cy, radius_px=r / s, mu_peak=rng.uniform(20.5, 23.5)))
    elif kind == "planetary_nebula":
        r = _loguniform(rng, 0.01, 0.08) * side
        mag = float(mag_from_surface_brightness(rng.uniform(17.0, 20.5), np.pi * r ** 2))
        out.append(O.make_planetary_nebula(rng, frame, cx, cy, radius_px=r / s, mag=mag))
    elif kind == "globular_cluster":
        rt = _loguniform(rng, 0.08, 0.4) * side
        out.append(O.make_globular_cluster(rng, frame, cx, cy, mag=rng.uniform(7.5, 10.5), rt_px=rt / s,
                                           m_faint=m_faint))
    elif kind == "open_cluster":
        r = _loguniform(rng, 0.08, 0.35) * side
        out.append(O.make_open_cluster(rng, frame, cx, cy, radius_px=r / s, mag=rng.uniform(5.0, 9.5)))
    if kind in ("reflection_nebula", "open_cluster", "planetary_nebula", "empty") and near_plane \
            and rng.random() < 0.4:
        out.append(_faint_cloud(rng, frame))  # Milky Way fields are rarely free of faint H-alpha
    return out  # may hold None (object outside the frame): render_scene drops them


def _faint_cloud(rng, frame):
    """A large, faint H-alpha cloud centred anywhere near the frame."""
    side = min(frame.width, frame.height) * frame.scale
    r = _loguniform(rng, 0.3, 1.5) * side / frame.scale
    return O.make_emission_nebula(rng, frame, rng.uniform(-0.5, 1.5) * frame.width,
                                  rng.uniform(-0.5, 1.5) * frame.height, radius_px=r, mu_peak=rng.uniform(22.0, 24.5))


def _hubble_shape(hubble):
    """Bulge fraction and spiral arms from a Hubble type (None: drawn at random)."""
    h = (hubble or "").strip()
    if not h:
        return None, None
    if h.startswith(("E", "S0", "SB0")):
        return 0.8, False
    stage = h.lstrip("SB").lstrip("AB")[:1]
    return {"a": 0.4, "b": 0.25, "c": 0.12, "d": 0.06, "m": 0.03}.get(stage, 0.1), h.startswith("S")


def _catalog_object(rng, frame, wcs, c: CatalogObject, m_faint):
    x, y = (float(v[0]) for v in wcs.wcs_world2pix([c.ra], [c.dec], 0))
    s = frame.scale
    major = (c.major_arcmin or 1.0) * 60.0  # arcsec
    minor = (c.minor_arcmin or c.major_arcmin or 1.0) * 60.0
    pa = pixel_angle(wcs, c.ra, c.dec, c.pa_deg) if c.pa_deg is not None else float(rng.uniform(0, np.pi))
    if c.kind == "galaxy":
        q = minor / major
        re = major / 2.0 / 2.2  # D25 radius ~ 2.2 disk half-light radii
        mag = c.mag if c.mag is not None else 12.0
        bt, spiral = _hubble_shape(c.hubble)
        return O.make_galaxy(rng, frame, x, y, mag=mag, re_px=re / s, q=q, pa=pa, bulge_frac=bt, spiral=spiral,
                             name=c.name)
    if c.kind == "emission_nebula":
        area = np.pi * major * minor / 4
        mu = (c.mag + 2.5 * np.log10(area) - 1.5) if c.mag is not None else rng.uniform(20.5, 23)
        return O.make_emission_nebula(rng, frame, x, y, radius_px=major / 2 / 1.6 / s,
                                      mu_peak=float(np.clip(mu, 18.5, 24.0)), axis_ratio=minor / major,
                                      pa=pa, name=c.name)
    if c.kind == "reflection_nebula":
        return O.make_reflection_nebula(rng, frame, x, y, radius_px=major / 2 / 1.5 / s,
                                        mu_peak=rng.uniform(20.5, 22.5), name=c.name)
    if c.kind == "planetary_nebula":
        return O.make_planetary_nebula(rng, frame, x, y, radius_px=major / 2 / s,
                                       mag=c.mag if c.mag is not None else 11.0, name=c.name)
    if c.kind == "globular_cluster":
        return O.make_globular_cluster(rng, frame, x, y, mag=c.mag if c.mag is not None else 8.0,
                                       rt_px=1.3 * major / 2 / s, m_faint=m_faint, name=c.name)
    if c.kind == "open_cluster":
        return O.make_open_cluster(rng, frame, x, y, radius_px=major / 2 / s,
                                   mag=c.mag if c.mag is not None else 8.0, name=c.name)
    return None


def _frame_size(preset: Preset, size):
    if size is None:
        return preset.width, preset.height
    if np.isscalar(size):
        return int(size), int(size)
    return int(size[0]), int(size[1])


def render_scene(preset="vespera", seed: int = 0, integration_s: float = 600.0, target: str | None = None,
                 size=None, *, ra: float | None = None, dec: float | None = None,
                 rotation_deg: float | None = None, kind: str | None = None, bortle: int | None = None,
                 moon: float | None = None, fwhm_arcsec: float | None = None, stars=None,
                 snr_threshold: float = 3.0, look: AppLook | None = None, noise_seed: int | None = None,
                 artifacts: bool = True) -> Scene:
    """Render one field; see :func:`render_field` for the parameters.

    Extra parameters
    ----------------
    kind : str, optional
        Main object of a random scene (one of :data:`SCENE_WEIGHTS`); drawn
        from that mix when None. Ignored with ``target``.
    stars : array_like, optional
        ``(N, 3)`` or ``(N, 4)`` rows of ``ra, dec, Vmag[, B-V]`` (degrees) to
        render through the WCS instead of random field stars (plate solving).
    noise_seed : int, optional
        Seed of the noise only. The scene (sky, stars, objects, look) depends
        on ``seed`` alone, so frames of one ``seed`` at growing
        ``integration_s`` are the same sky stacked longer; by default the noise
        seed is derived from ``seed`` and the number of subs.
    artifacts : bool
        Hot pixels, amp glow, satellite trails.
    """
    preset = get_preset(preset)
    rng = np.random.default_rng(seed)
    width, height = _frame_size(preset, size)
    if width < 16 or height < 16:
        raise ValueError(f"frame too small ({width}x{height}); use at least 16 px")
    if integration_s <= 0:
        raise ValueError(f"integration_s must be positive, got {integration_s}")
    frame = O.Frame(width, height, preset.scale, preset)
    n_subs = max(1, int(round(integration_s / preset.sub_s)))
    t_sub = preset.sub_s

    # --- pointing and what is in the field
    cat_objs = []
    if target:
        tgt = lookup_target(target)
        ra, dec = tgt.ra if ra is None else ra, tgt.dec if dec is None else dec
        radius = 0.5 * np.hypot(width, height) * preset.scale / 60.0
        cat_objs = field_objects(tgt, radius)
        kind = tgt.kind
    else:
        if kind is None:
            kinds = list(SCENE_WEIGHTS)
            p = np.array([SCENE_WEIGHTS[k] for k in kinds])
            kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        elif kind not in SCENE_WEIGHTS:
            raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(SCENE_WEIGHTS)}")
        if ra is None or dec is None:
            near = kind in ("emission_nebula", "reflection_nebula", "open_cluster", "planetary_nebula") \
                or (kind == "empty" and rng.random() < 0.5)
            ra, dec = _random_pointing(rng, near_plane=near)
    rotation_deg = float(rng.uniform(0, 360) if rotation_deg is None else rotation_deg)
    wcs = make_wcs(ra, dec, preset.scale, width, height, rotation_deg)
    b_deg = float(galactic_latitude(ra, dec))

    # --- conditions
    bortle = int(rng.choice(np.arange(3, 10), p=_BORTLE_WEIGHTS) if bortle is None else bortle)
    moon = float((0.0 if rng.random() < 0.6 else rng.uniform(0.1, 1.0)) if moon is None else moon)
    fwhm_as = float(rng.uniform(*preset.seeing_fwhm) if fwhm_arcsec is None else fwhm_arcsec)
    fwhm = fwhm_as / preset.scale
    beta = float(rng.uniform(2.5, 4.0))
    ell = float(rng.uniform(0.0, 0.15))  # slight trailing / field rotation residual
    theta = float(rng.uniform(0, np.pi))
    look = look or random_look(rng)

    sky, mu_sky = sky_background(rng, frame, bortle, moon)
    dark = preset.dark_e_s
    sky_e = sky[::4, ::4].reshape(-1, 3).mean(axis=0) * t_sub + dark * t_sub + preset.read_noise_e ** 2
    sigma_sky_e = np.sqrt(sky_e / n_subs)  # per channel, per-sub-mean electrons
    alpha = moffat_alpha(fwhm, beta)
    peak_frac = (beta - 1) / (np.pi * alpha ** 2)

    def faintest(n):
        """Faintest star worth stamping after n subs: peak at 0.3 sigma of the stack."""
        f_lim = 0.3 * float(np.sqrt(sky_e / n).mean()) / (t_sub * peak_frac)
        return float(np.clip(-2.5 * np.log10(f_lim / flux_e_s(0.0, preset)), 10.0, 21.5))

    # The scene is drawn to the depth of a long stack whatever the integration, so that one
    # seed is one sky: shorter stacks show the same stars, fewer of them.
    m_faint, m_deep = faintest(n_subs), faintest(max(n_subs, DEEP_SUBS))

    if target:
        objs = [_catalog_object(rng, frame, wcs, c, m_deep) for c in cat_objs]
    else:
        objs = _random_objects(rng, frame, kind, m_deep, abs(b_deg) < 12)
    objs = [o for o in objs if o is not None]

    # --- stars: field (random or given) dimmed by dark lanes, plus object members
    star_rng = np.random.default_rng([int(seed), 17])
    if stars is not None:
        st = np.atleast_2d(np.asarray(stars, dtype=np.float64))
        sx, sy = wcs.wcs_world2pix(st[:, 0], st[:, 1], 0)
        bv = st[:, 3] if st.shape[1] > 3 else sample_bv(star_rng, st.shape[0], b_deg)
        inside = (sx > -20) & (sx < width + 20) & (sy > -20) & (sy < height + 20)
        field_stars = StarField(sx[inside], sy[inside], st[inside, 2], bv[inside])
    else:
        field_stars = random_stars(star_rng, width, height, preset.scale, b_deg, m_deep)
        keep = field_stars.mag <= m_faint  # the rest is below the noise of this stack
        field_stars = StarField(field_stars.x[keep], field_stars.y[keep], field_stars.mag[keep], field_stars.bv[keep])
    star_flux = flux_e_s(field_stars.mag, preset)
    # Pixel of each field star (clipped to the frame): for the dark lanes and the labels' S/N.
    fx = np.clip(np.round(field_stars.x).astype(int), 0, width - 1)
    fy = np.clip(np.round(field_stars.y).astype(int), 0, height - 1)
    for o in objs:
        if o.extinction is not None and len(field_stars):
            star_flux = star_flux * o.extinction[fy, fx]
    all_stars, all_flux = field_stars, star_flux
    for o in objs:
        if o.members is not None and len(o.members):
            all_stars = all_stars.concat(o.members)
            all_flux = np.r_[all_flux, flux_e_s(o.members.mag, preset)]
    colours = temperature_rgb(bv_to_temperature(all_stars.bv)).astype(np.float32)

    # --- light on the sensor (e-/s), vignetted, then one sub, saturated, then the stack
    rate = sky
    for o in objs:
        if o.light is not None:
            x0, y0, x1, y1 = o.window
            rate[y0:y1, x0:x1] += o.light
    # Vignetting of the full frame; a small tile cut from it sees less of the fall-off.
    tile_frac = min(1.0, 2.0 * max(width, height) / max(preset.width, preset.height))
    vig = vignetting(height, width, float(rng.uniform(0.0, 0.25)) * tile_frac)[..., None]
    thermal = dark + (amp_glow(height, width, preset.amp_glow, int(rng.integers(0, 4)),
                               max(preset.width, preset.height)) if artifacts else 0.0)
    thermal = (np.asarray(thermal, np.float32) * t_sub)[..., None] if np.ndim(thermal) else thermal * t_sub
    # Noise of the sky + diffuse light alone: what the labels' visibility is judged against.
    sigma_map = np.sqrt((np.maximum(rate * vig * t_sub + thermal, 0) + preset.read_noise_e ** 2) / n_subs)
    render_stars(rate, all_stars, all_flux, colours, fwhm, beta, ellipticity=ell, theta=theta)
    rate *= vig
    sub = rate * t_sub + thermal
    saturate_and_bleed(sub, preset.full_well_e)
    nrng = np.random.default_rng([int(seed), n_subs] if noise_seed is None else noise_seed)
    stack = sub + stack_noise(nrng, sub, n_subs, preset.read_noise_e)
    if artifacts:
        # Dark frames remove the mean dark current and most of the glow; keep a residual.
        stack -= 0.9 * dark * t_sub
        add_hot_pixels(nrng, stack, int(nrng.integers(0, 1 + width * height // 40000)),
                       level=float(preset.full_well_e) * 0.2 / np.sqrt(n_subs))
        if rng.random() < 0.03:  # sigma-clipped stacking removes most trails
            add_satellite_trail(nrng, stack, level=float(preset.full_well_e) * 0.1 / n_subs)
    linear = (stack / preset.gain_e_adu + PEDESTAL_ADU).astype(np.float32)

    # --- labels from what is visible at this integration
    # Peak S/N of the field stars, to tell a cluster from the field around it.
    field_snr = star_flux * t_sub * peak_frac / sigma_map[fy, fx].mean(axis=1) if len(field_stars) else np.zeros(0)
    labels = []
    for o in objs:
        box = _visible_box(o, sigma_map, t_sub, fwhm, alpha, beta, snr_threshold, preset, width, height, field_snr)
        if box is not None:
            labels.append(to_detection(generous_box(box, width, height), o))
    if len(labels) > 1:
        from ..postprocess import merge_overlapping

        # One box per cloud complex (overlapping nebulae), and boxes mostly inside another merged.
        neb = [d for d in labels if d.extras["kind"].endswith("nebula") and d.extras["kind"] != "planetary_nebula"]
        rest = [d for d in labels if d not in neb]
        if len(neb) > 1:
            neb = merge_overlapping(neb, containment=0.0)
        labels = merge_overlapping(neb + rest, containment=0.5)

    # --- the app's JPEG
    bg_adu = np.median(linear[::4, ::4].reshape(-1, 3), axis=0)
    sig_adu = sigma_sky_e / preset.gain_e_adu
    from ..io import to_uint8

    display = app_stretch(linear, bg_adu, sig_adu, look)
    jpeg, jpeg_bytes = jpeg_roundtrip(to_uint8(display), look.quality)

    params = dict(preset=preset.name, seed=int(seed), integration_s=float(n_subs * t_sub), n_subs=n_subs,
                  target=target, kind=kind, ra=float(ra), dec=float(dec), rotation_deg=rotation_deg,
                  b_deg=b_deg, bortle=bortle, moon=moon, mu_sky=mu_sky, fwhm_arcsec=fwhm_as, beta=beta,
                  m_faint=m_faint, snr_threshold=snr_threshold, look=look.__dict__.copy(),
                  n_stars=len(all_stars))
    header = _header(preset, wcs, params, width, height)
    return Scene(linear, jpeg, jpeg_bytes, labels, header, objs, all_stars, sig_adu, params)


def _visible_box(o, sigma_map, t_sub, fwhm, alpha, beta, thr, preset, width, height, field_snr=()):
    boxes = []
    if o.light is not None:
        x0, y0, x1, y1 = o.window
        m = visible_mask(o.light * t_sub, sigma_map[y0:y1, x0:x1], threshold=thr,
                         smooth=max(5, int(2 * fwhm) | 1), min_area=int(max(25, 4 * fwhm ** 2)))
        b = box_from_mask(m, (x0, y0))
        if b is not None:
            boxes.append(b)
    if o.kind in ("globular_cluster", "open_cluster") and o.members is not None:
        peak = flux_e_s(o.members.mag, preset) * t_sub * (beta - 1) / (np.pi * alpha ** 2)
        ix = np.clip(np.round(o.members.x).astype(int), 0, width - 1)
        iy = np.clip(np.round(o.members.y).astype(int), 0, height - 1)
        inside = (o.members.x >= 0) & (o.members.x < width) & (o.members.y >= 0) & (o.members.y < height)
        sig = sigma_map[iy, ix].mean(axis=1)
        b = cluster_box(o.members.x[inside], o.members.y[inside], (peak / sig)[inside], o.x, o.y, 0.8 * o.size,
                        field_snr, float(width * height))
        if b is not None:
            boxes.append(b)
    if not boxes:
        return None
    bb = np.array(boxes, float)
    return (bb[:, 0].min(), bb[:, 1].min(), bb[:, 2].max(), bb[:, 3].max())


def _header(preset: Preset, wcs, p: dict, width: int, height: int):
    from astropy.io import fits

    h = fits.Header()
    h["OBJECT"] = (p["target"] or f"synthetic {p['kind']}", "target")
    h["TELESCOP"] = (preset.name, "smart telescope preset")
    h["INSTRUME"] = (preset.sensor, "sensor")
    h["SYNTHETC"] = (True, "rendered by dsodetect.synth")
    h["SEED"] = (p["seed"], "scene seed")
    h["EXPTIME"] = (p["integration_s"], "[s] total integration of the stack")
    h["EXPOSURE"] = (p["integration_s"], "[s] total integration of the stack")
    h["SUBEXP"] = (preset.sub_s, "[s] length of one sub-exposure")
    h["NCOMBINE"] = (p["n_subs"], "number of stacked subs (mean)")
    h["FOCALLEN"] = (preset.focal_mm, "[mm] focal length")
    h["APERTURE"] = (preset.aperture_mm, "[mm] aperture diameter")
    h["XPIXSZ"] = (preset.pixel_um, "[um] pixel width")
    h["YPIXSZ"] = (preset.pixel_um, "[um] pixel height")
    h["PIXSCALE"] = (round(preset.scale, 5), "[arcsec/px]")
    h["EGAIN"] = (preset.gain_e_adu, "[e-/ADU]")
    h["RDNOISE"] = (preset.read_noise_e, "[e-] read noise of one sub")
    h["PEDESTAL"] = (PEDESTAL_ADU, "[ADU] offset added to the data")
    h["BUNIT"] = ("ADU", "mean of the subs")
    h["RA"] = (round(p["ra"], 6), "[deg] pointing (frame centre)")
    h["DEC"] = (round(p["dec"], 6), "[deg] pointing (frame centre)")
    h["GAL_B"] = (round(p["b_deg"], 3), "[deg] galactic latitude")
    h["BORTLE"] = (p["bortle"], "sky class")
    h["SKYMAG"] = (round(p["mu_sky"], 3), "[mag/arcsec2] sky brightness")
    h["MOON"] = (round(p["moon"], 3), "moon glow 0..1")
    h["SEEING"] = (round(p["fwhm_arcsec"], 3), "[arcsec] star FWHM")
    h["SNRTHR"] = (p["snr_threshold"], "label visibility threshold (x noise)")
    h.update(wcs.to_header())
    return h


def render_field(preset="vespera", seed: int = 0, integration_s: float = 600.0, target: str | None = None,
                 size=None, **kwargs) -> SynthField:
    """Render a synthetic smart-telescope stack with labels that follow visibility.

    Parameters
    ----------
    preset : str or Preset
        ``stellina``, ``vespera`` or ``seestar`` (:data:`~dsodetect.telescopes.PRESETS`).
    seed : int
        Everything in the scene follows from it (deterministic).
    integration_s : float
        Total integration of the stack (a multiple of the 10 s subs).
    target : str, optional
        Catalogue name (``M51``, ``NGC7000``...): render the real target and
        its catalogued neighbours from OpenNGC at the true pointing.
    size : int or (width, height), optional
        Frame size in pixels at the preset's pixel scale; the full sensor
        frame when None. 640 gives tiles like the real data set.
    **kwargs
        See :func:`render_scene` (``ra``, ``dec``, ``rotation_deg``, ``kind``,
        ``bortle``, ``moon``, ``fwhm_arcsec``, ``stars``, ``snr_threshold``...).

    Returns
    -------
    SynthField
        ``(linear, jpeg, labels, header)``: linear float32 RGB in ADU, the
        app's JPEG decoded to uint8 RGB, a list of
        :class:`~dsodetect.detection.Detection` boxes (pixel coordinates) and
        the FITS header (with TAN WCS).
    """
    return render_scene(preset, seed, integration_s, target, size, **kwargs).as_field()


def write_sample(path, preset="vespera", seed: int = 0, integration_s: float = 600.0, target: str | None = None,
                 size=None, *, scene: Scene | None = None, fits: bool = True, jpeg: bool = True,
                 labels: bool = True, **kwargs) -> dict:
    """Render (or take ``scene``) and write ``<path>.fits``, ``<path>.jpg`` and ``<path>.txt``.

    ``path`` is a stem (any suffix is dropped). The FITS holds the linear
    stack as a ``(3, H, W)`` float32 cube with the header; the JPEG is the
    app-style image byte for byte; the ``.txt`` holds YOLO labels
    (``0 xc yc w h``, normalised) of the visible objects.

    Returns
    -------
    dict
        ``{"fits": Path, "jpeg": Path, "labels": Path, "scene": Scene}``
        (the keys of the files written).
    """
    from ..dataset.yolo import write_labels

    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".fits", ".fit", ".jpg", ".jpeg", ".txt") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    scene = scene or render_scene(preset, seed, integration_s, target, size, **kwargs)
    out = {"scene": scene}
    if fits:
        from astropy.io import fits as afits

        p = stem.with_name(stem.name + ".fits")
        afits.PrimaryHDU(np.moveaxis(scene.linear, -1, 0), header=scene.header).writeto(p, overwrite=True)
        out["fits"] = p
    if jpeg:
        p = stem.with_name(stem.name + ".jpg")
        p.write_bytes(scene.jpeg_bytes)
        out["jpeg"] = p
    if labels:
        h, w = scene.jpeg.shape[:2]
        out["labels"] = write_labels(stem.with_name(stem.name + ".txt"), scene.labels, w, h)
    return out
