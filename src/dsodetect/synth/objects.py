"""Deep-sky objects: galaxies, nebulae, planetary nebulae, globular and open clusters.

Each ``make_*`` function returns a :class:`SynthObject` holding its smooth light
(``(h, w, 3)`` e-/s over a window of the frame), its resolved member stars and,
for dark lanes, an extinction map for the stars behind. Sizes are in pixels,
brightnesses physical (magnitudes, mag/arcsec²) and converted through the
telescope preset, so the same object is faint after 20 s and clear after 1 h.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gamma, gammaincinv

from .noise import fractal_noise
from .photometry import bv_to_temperature, flux_e_s, temperature_rgb
from .stars import StarField

__all__ = ["Frame", "SynthObject", "make_galaxy", "make_emission_nebula", "make_reflection_nebula",
           "make_planetary_nebula", "make_globular_cluster", "make_open_cluster"]

# Channel weights (mean 1) of the line emitters as an OSC sensor with a UV/IR cut sees them.
HALPHA_RGB = np.array([1.9, 0.6, 0.5])      # H-alpha, H-beta, [NII], [SII] + scattered continuum
OIII_RGB = np.array([0.15, 1.45, 1.40])     # 496/501 nm sits between the G and B filters
REFLECTION_RGB = np.array([0.55, 0.95, 1.50])


@dataclass
class Frame:
    """Geometry and photometry of the frame being rendered."""

    width: int
    height: int
    scale: float  # arcsec / px
    preset: object

    def sb_to_e_s(self, mu):
        """Surface brightness (mag/arcsec²) -> e-/s/px per channel."""
        return flux_e_s(mu, self.preset) * self.scale ** 2

    def mag_to_e_s(self, mag):
        return flux_e_s(mag, self.preset)


@dataclass
class SynthObject:
    """One rendered deep-sky object (frame coordinates in pixels)."""

    kind: str
    x: float
    y: float
    size: float                      # major diameter, px
    name: str = ""
    mag: float = np.nan
    window: tuple = (0, 0, 0, 0)     # x0, y0, x1, y1 of ``light`` in the frame
    light: np.ndarray | None = None  # (h, w, 3) e-/s
    members: StarField | None = None
    extinction: np.ndarray | None = None  # (H, W) transmission for stars behind
    params: dict = field(default_factory=dict)


def _window(frame: Frame, x, y, half_w, half_h=None):
    """``(x0, y0, x1, y1)`` of the frame within ``half_w`` / ``half_h`` of ``(x, y)``; None when empty."""
    half_h = half_w if half_h is None else half_h
    x0, x1 = int(max(0, np.floor(x - half_w))), int(min(frame.width, np.ceil(x + half_w + 1)))
    y0, y1 = int(max(0, np.floor(y - half_h))), int(min(frame.height, np.ceil(y + half_h + 1)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _grid(window, x, y, pa):
    x0, y0, x1, y1 = window
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - x, yy - y
    c, s = np.cos(pa), np.sin(pa)
    return dx * c + dy * s, -dx * s + dy * c  # along the major axis, along the minor axis


def _b_n(n):
    return gammaincinv(2.0 * n, 0.5)


def _sersic_total(n, re, q):
    """Total of ``exp(-b (r/re)^(1/n) - 1)`` over the plane (I_e = 1)."""
    b = _b_n(n)
    return 2.0 * np.pi * n * re ** 2 * q * np.exp(b) * b ** (-2.0 * n) * gamma(2.0 * n)


def _sersic(u, v, n, re, q):
    r = np.sqrt(u ** 2 + (v / q) ** 2)
    b = _b_n(n)
    return np.exp(-b * ((r / re) ** (1.0 / n) - 1.0)) / _sersic_total(n, re, q)


def make_galaxy(rng, frame: Frame, x, y, *, mag, re_px, q=None, pa=None, bulge_frac=None,
                spiral=None, dust=None, name=""):
    """Bulge (Sersic n~4) + exponential disk with optional log-spiral arms and dust lane.

    Parameters
    ----------
    mag : float
        Total V magnitude.
    re_px : float
        Disk half-light radius in pixels.
    q : float
        Apparent axis ratio b/a (cosine of the inclination, floored at 0.12).
    """
    q = float(rng.uniform(0.15, 1.0) if q is None else np.clip(q, 0.12, 1.0))
    pa = float(rng.uniform(0, np.pi) if pa is None else pa)
    bt = float(rng.uniform(0.05, 0.6) if bulge_frac is None else bulge_frac)
    spiral = bool(rng.random() < 0.6 and bt < 0.45) if spiral is None else spiral
    dust = bool(q < 0.4 and rng.random() < 0.7) if dust is None else dust
    n_b = float(rng.uniform(2.5, 4.5))
    re_b = re_px * float(rng.uniform(0.12, 0.3))
    half = min(6.0 * re_px, 2.0 * max(frame.width, frame.height))
    win = _window(frame, x, y, half)
    if win is None:
        return None
    u, v = _grid(win, x, y, pa)
    bulge = _sersic(u, v, n_b, max(re_b, 0.6), min(1.0, q + 0.3))
    disk = _sersic(u, v, 1.0, max(re_px, 0.8), q)
    if spiral:
        # Log-spiral density wave in the de-projected disk plane.
        r = np.sqrt(u ** 2 + (v / q) ** 2) + 1e-3
        theta = np.arctan2(v / q, u)
        pitch = np.radians(rng.uniform(12, 30))
        phase = rng.uniform(0, 2 * np.pi)
        arms = np.cos(2.0 * (theta - np.log(r / re_px) / np.tan(pitch)) + phase)
        contrast = float(rng.uniform(0.4, 0.9)) * np.clip(r / (0.5 * re_px), 0, 1)
        disk = disk * (1.0 + contrast * arms)
    if dust:
        # A lane slightly offset from the major axis (the near side of the disk).
        width = max(0.6, 0.15 * re_px * q)
        lane = 1.0 - rng.uniform(0.5, 0.85) * np.exp(-0.5 * ((v - 0.25 * width) / width) ** 2) \
            * np.exp(-0.5 * (u / (2.5 * re_px)) ** 2)
        disk = disk * lane
        bulge = bulge * lane
    total = frame.mag_to_e_s(mag)
    c_bulge = temperature_rgb(bv_to_temperature(rng.uniform(0.85, 1.1)))
    c_disk = temperature_rgb(bv_to_temperature(rng.uniform(0.35, 0.65)))
    light = total * (bt * bulge[..., None] * c_bulge + (1 - bt) * disk[..., None] * c_disk)
    return SynthObject("galaxy", x, y, 2.0 * 2.5 * re_px, name, mag, win, light.astype(np.float32),
                       params=dict(q=q, pa=pa, bulge_frac=bt, spiral=spiral, dust=dust, re_px=re_px))


def _soft_envelope(u, v, a, b):
    r2 = (u / a) ** 2 + (v / b) ** 2
    return np.exp(-0.5 * r2 ** 1.3)  # flatter top, steeper edge than a Gaussian


def make_emission_nebula(rng, frame: Frame, x, y, *, radius_px, mu_peak, axis_ratio=None, pa=None,
                         oiii=None, dark=None, name=""):
    """HII region: lognormal turbulent clouds + ridged filaments, H-alpha red, OIII teal core.

    ``mu_peak`` is the surface brightness (V mag/arcsec²) of the brightest
    parts; ``radius_px`` the 1-sigma size of the envelope (may exceed the frame).
    """
    ar = float(rng.uniform(0.4, 1.0) if axis_ratio is None else axis_ratio)
    pa = float(rng.uniform(0, np.pi) if pa is None else pa)
    oiii = float(rng.uniform(0.0, 0.5) if oiii is None else oiii)
    dark = bool(rng.random() < 0.5) if dark is None else dark
    half = 3.2 * radius_px
    win = _window(frame, x, y, half)
    if win is None:
        return None
    shape = (win[3] - win[1], win[2] - win[0])
    u, v = _grid(win, x, y, pa)
    env = _soft_envelope(u, v, radius_px, radius_px * ar)
    clouds = np.exp(0.9 * fractal_noise(rng, shape, 3.0))
    ridges = (1.0 - np.abs(fractal_noise(rng, shape, 2.6))) ** 4
    env_mod = env * np.exp(0.6 * fractal_noise(rng, shape, 3.6))  # ragged outline
    dens = env_mod * (0.55 * clouds + 0.9 * ridges)
    ext = None
    if dark:
        lanes = np.clip(fractal_noise(rng, shape, 3.4) - 0.6, 0.0, None)
        trans = np.exp(-2.5 * lanes).astype(np.float32)
        dens = dens * trans
        ext = trans
    dens /= max(float(np.percentile(dens, 99.5)), 1e-12)
    lum = frame.sb_to_e_s(mu_peak) * dens
    core = env[..., None] ** 0.5  # OIII towards the core, H-alpha outside
    colour = (1 - oiii) * HALPHA_RGB + oiii * OIII_RGB * core + oiii * HALPHA_RGB * (1 - core)
    light = (lum[..., None] * colour).astype(np.float32)
    obj = SynthObject("emission_nebula", x, y, 2.0 * 2.0 * radius_px, name, np.nan, win, light,
                      params=dict(mu_peak=mu_peak, radius_px=radius_px, oiii=oiii, dark=dark))
    if ext is not None:
        full = np.ones((frame.height, frame.width), np.float32)
        full[win[1]:win[3], win[0]:win[2]] = ext
        obj.extinction = full
    return obj


def make_reflection_nebula(rng, frame: Frame, x, y, *, radius_px, mu_peak, name=""):
    """Blue dust lit by an embedded bright star (the star is a member)."""
    half = 3.0 * radius_px
    win = _window(frame, x, y, half)
    if win is None:
        return None
    shape = (win[3] - win[1], win[2] - win[0])
    u, v = _grid(win, x, y, rng.uniform(0, np.pi))
    r = np.sqrt(u ** 2 + (v / rng.uniform(0.5, 1.0)) ** 2)
    dens = np.exp(-r / (0.6 * radius_px)) * np.exp(0.7 * fractal_noise(rng, shape, 3.2))
    dens /= max(float(np.percentile(dens, 99.5)), 1e-12)
    light = (frame.sb_to_e_s(mu_peak) * dens)[..., None] * REFLECTION_RGB
    star = StarField([x], [y], [rng.uniform(6.5, 9.5)], [rng.uniform(-0.2, 0.1)])
    return SynthObject("reflection_nebula", x, y, 2.0 * 1.5 * radius_px, name, np.nan, win,
                       light.astype(np.float32), members=star, params=dict(mu_peak=mu_peak))


def make_planetary_nebula(rng, frame: Frame, x, y, *, radius_px, mag, name=""):
    """Elliptical shell (limb-brightened ring), OIII teal inside, H-alpha red rim, central star."""
    radius_px = max(radius_px, 1.0)
    q = float(rng.uniform(0.6, 1.0))
    pa = float(rng.uniform(0, np.pi))
    win = _window(frame, x, y, 2.2 * radius_px + 3)
    if win is None:
        return None
    # Render the whole shell then keep the part in the frame so the flux is right.
    full = (int(np.floor(x - 2.2 * radius_px - 3)), int(np.floor(y - 2.2 * radius_px - 3)),
            int(np.ceil(x + 2.2 * radius_px + 4)), int(np.ceil(y + 2.2 * radius_px + 4)))
    u, v = _grid(full, x, y, pa)
    r = np.sqrt(u ** 2 + (v / q) ** 2)
    w = max(0.25 * radius_px, 0.8)
    shell = np.exp(-0.5 * ((r - radius_px) / w) ** 2) + 0.35 * np.exp(-0.5 * (r / radius_px) ** 2)
    rim = np.exp(-0.5 * ((r - 1.15 * radius_px) / w) ** 2)
    shell = shell / shell.sum()
    rim = rim / rim.sum()
    total = frame.mag_to_e_s(mag)
    light = total * (0.8 * shell[..., None] * OIII_RGB + 0.2 * rim[..., None] * HALPHA_RGB)
    sx, sy = win[0] - full[0], win[1] - full[1]
    light = light[sy:sy + win[3] - win[1], sx:sx + win[2] - win[0]]
    star = StarField([x], [y], [mag + rng.uniform(3.0, 6.0)], [-0.3])
    return SynthObject("planetary_nebula", x, y, 2.0 * 1.2 * radius_px, name, mag, win,
                       light.astype(np.float32), members=star, params=dict(radius_px=radius_px))


def _king_radii(rng, n, rc, rt):
    """Radii drawn from King's (1962) surface density by rejection."""
    out = np.empty(0)
    k = 1.0 / np.sqrt(1.0 + (rt / rc) ** 2)
    fmax = (1.0 - k) ** 2 * rt  # bound of r * density
    while out.size < n:
        r = rng.uniform(0, rt, 4 * n)
        f = r * (1.0 / np.sqrt(1.0 + (r / rc) ** 2) - k) ** 2
        out = np.r_[out, r[rng.uniform(0, fmax, r.size) < f]]
    return out[:n]


def make_globular_cluster(rng, frame: Frame, x, y, *, mag, rt_px, m_faint, name="",
                          max_members: int = 4000):
    """King profile of resolved giants (down to ``m_faint``) plus the unresolved rest as smooth light."""
    c = float(rng.uniform(1.0, 1.6))  # concentration log10(rt/rc)
    rc = rt_px / 10.0 ** c
    tip = mag + float(rng.uniform(5.5, 6.5))  # red-giant tip below the integrated magnitude
    n_tip = 20.0  # giants within ~1 mag of the tip of a bright globular
    n = int(min(max_members, n_tip * 10.0 ** (0.3 * max(m_faint - tip, 0.0))))
    # Inverse CDF of dN/dm ~ 10**(0.3 m) between the tip and the frame's limit.
    span = 10.0 ** (0.3 * max(m_faint - tip, 0.0)) - 1.0
    mags = tip + np.log10(1.0 + rng.uniform(0, 1, n) * span) / 0.3
    r = _king_radii(rng, n, rc, rt_px)
    phi = rng.uniform(0, 2 * np.pi, n)
    members = StarField(x + r * np.cos(phi), y + r * np.sin(phi), mags, rng.normal(1.0, 0.3, n))
    resolved = float(np.sum(10.0 ** (-0.4 * (mags - mag)))) if n else 0.0
    frac = float(np.clip(1.0 - resolved, 0.2, 1.0))
    win = _window(frame, x, y, rt_px)
    light = None
    if win is not None:
        u, v = _grid(win, x, y, 0.0)
        rr = np.sqrt(u ** 2 + v ** 2)
        k = 1.0 / np.sqrt(1.0 + (rt_px / rc) ** 2)
        sb = np.clip(1.0 / np.sqrt(1.0 + (rr / rc) ** 2) - k, 0, None) ** 2
        # Analytic-enough normalisation: sum over the full disc of radius rt.
        rs = np.linspace(0, rt_px, 512)
        tot = np.trapezoid(2 * np.pi * rs * np.clip(1 / np.sqrt(1 + (rs / rc) ** 2) - k, 0, None) ** 2, rs)
        colour = temperature_rgb(bv_to_temperature(0.75))
        light = (frame.mag_to_e_s(mag) * frac * sb / max(tot, 1e-12))[..., None] * colour
        light = light.astype(np.float32)
    else:
        win = (0, 0, 0, 0)
    return SynthObject("globular_cluster", x, y, 2.0 * rt_px, name, mag, win, light, members=members,
                       params=dict(rc_px=rc, rt_px=rt_px))


def make_open_cluster(rng, frame: Frame, x, y, *, radius_px, mag, n_stars=None, name=""):
    """A loose overdensity of young (blue-white) stars with a Plummer-like spread."""
    n = int(rng.integers(25, 250) if n_stars is None else n_stars)
    m_bright = mag + float(rng.uniform(1.0, 2.5))
    # Exponential luminosity function over ~6 magnitudes below the brightest member.
    mags = m_bright + rng.exponential(2.2, n).clip(0, 7)
    a = radius_px / 1.5
    r = a / np.sqrt(np.maximum(rng.uniform(0, 1, n) ** (-2.0 / 3.0) - 1.0, 1e-6))
    r = np.minimum(r, 2.5 * radius_px)
    phi = rng.uniform(0, 2 * np.pi, n)
    members = StarField(x + r * np.cos(phi), y + r * np.sin(phi), mags, rng.normal(0.15, 0.25, n))
    return SynthObject("open_cluster", x, y, 2.0 * radius_px, name, mag, (0, 0, 0, 0), None,
                       members=members, params=dict(radius_px=radius_px, n_stars=n))
