"""Sky background (light pollution, moon) and sensor effects (noise, hot pixels, glow, trails)."""

from __future__ import annotations

import numpy as np

from .photometry import BORTLE_SKY_MAG

__all__ = ["sky_background", "vignetting", "amp_glow", "add_satellite_trail", "add_hot_pixels",
           "stack_noise", "saturate_and_bleed"]

_NATURAL_RGB = np.array([0.85, 1.05, 1.10])   # airglow + zodiacal light after white balance
_SODIUM_RGB = np.array([1.45, 0.95, 0.60])    # sodium / warm LED light pollution
_MOON_RGB = np.array([0.85, 1.00, 1.15])      # scattered sunlight, bluish


def _pixel_grid(height: int, width: int):
    """Row ``(H, 1)`` and column ``(1, W)`` float32 pixel coordinates: they broadcast to the
    frame, with the same values as a full ``np.mgrid`` without its two full-frame arrays."""
    return (np.arange(height, dtype=np.float32)[:, None], np.arange(width, dtype=np.float32)[None, :])


def sky_background(rng, frame, bortle: int, moon: float = 0.0):
    """Sky light in e-/s/px per channel, ``(H, W, 3)`` float32, with gradients and colour cast.

    Parameters
    ----------
    bortle : int
        1..9; sets the zenith brightness (:data:`BORTLE_SKY_MAG`) and how
        orange the cast is.
    moon : float
        0 (no moon) .. 1 (full moon near the target): adds bright, bluish sky
        with a strong gradient towards the moon.

    Returns
    -------
    sky : ndarray
    mu_sky : float
        Mean sky surface brightness in mag/arcsec².
    """
    h, w = frame.height, frame.width
    bortle = int(np.clip(bortle, 1, 9))
    mu = BORTLE_SKY_MAG[bortle] + rng.normal(0.0, 0.15)  # altitude / transparency jitter
    lp = np.clip((bortle - 2) / 7.0, 0.0, 1.0)
    colour = (1 - lp) * _NATURAL_RGB + lp * _SODIUM_RGB
    level = frame.sb_to_e_s(mu)
    yy, xx = _pixel_grid(h, w)
    diag = float(np.hypot(h, w))
    # Linear gradient towards the horizon / the nearest town.
    phi = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - w / 2) * np.cos(phi) + (yy - h / 2) * np.sin(phi)) / diag
    grad = 1.0 + rng.uniform(0.01, 0.06 + 0.12 * lp) * 2.0 * ramp  # apps flatten most of it
    sky = (level * grad)[..., None] * colour
    mu_total = mu
    if moon > 0:
        mu_moon = 22.0 - 4.5 * moon  # full moon nearby ~17.5 mag/arcsec²
        phi = rng.uniform(0, 2 * np.pi)
        mx, my = w / 2 + 1.5 * diag * np.cos(phi), h / 2 + 1.5 * diag * np.sin(phi)
        d = np.hypot(xx - mx, yy - my) / diag
        glow = np.exp(-(d - 1.5) * rng.uniform(0.1, 0.5))
        sky = sky + (frame.sb_to_e_s(mu_moon) * glow)[..., None] * _MOON_RGB
        mu_total = -2.5 * np.log10(10 ** (-0.4 * mu) + 10 ** (-0.4 * mu_moon))
    return sky.astype(np.float32), float(mu_total)


def vignetting(height: int, width: int, strength: float) -> np.ndarray:
    """cos⁴-like illumination falloff, 1 at the centre, ``1 - strength`` at the frame corner."""
    yy, xx = _pixel_grid(height, width)
    r2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    return (1.0 - strength * r2).astype(np.float32)


def amp_glow(height: int, width: int, rate: float, corner: int = 0, full_width: int | None = None) -> np.ndarray:
    """Amplifier glow (e-/s/px) decaying from one frame corner (0..3)."""
    if rate <= 0:
        return np.zeros((height, width), np.float32)
    yy, xx = _pixel_grid(height, width)
    cx, cy = (0 if corner in (0, 2) else width), (0 if corner in (0, 1) else height)
    scale = 0.12 * (full_width or max(height, width))
    return (rate * np.exp(-np.hypot(xx - cx, yy - cy) / scale)).astype(np.float32)


def add_satellite_trail(rng, image, level: float, width_px: float = 1.5):
    """Draw one straight trail across ``image`` (in place, per channel ``level``)."""
    import cv2

    h, w = image.shape[:2]
    a = rng.uniform(0, np.pi)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    L = 2 * (h + w)
    p0 = (int(cx - L * np.cos(a)), int(cy - L * np.sin(a)))
    p1 = (int(cx + L * np.cos(a)), int(cy + L * np.sin(a)))
    line = np.zeros((h, w), np.float32)
    cv2.line(line, p0, p1, 1.0, max(1, int(round(width_px))), cv2.LINE_AA)
    image += (level * line)[..., None] * np.array([1.0, 1.0, 1.0], np.float32)
    return image


def add_hot_pixels(rng, image, n: int, level: float):
    """Single-colour hot pixels (one Bayer site each) that survived stacking."""
    h, w = image.shape[:2]
    ys, xs, cs = rng.integers(0, h, n), rng.integers(0, w, n), rng.integers(0, 3, n)
    image[ys, xs, cs] += (level * rng.uniform(0.3, 1.0, n)).astype(np.float32)
    return image


def saturate_and_bleed(sub, full_well: float):
    """Clip a sub-exposure at full well; overflow of strongly saturated stars bleeds along columns."""
    lum = (sub[..., 0] + sub[..., 1] + sub[..., 2]) / 3.0  # faster than mean(axis=2)
    over = lum > full_well
    if over.any():
        import cv2

        # Blooming: extend saturated cores vertically by an amount growing with the overflow.
        # (CMOS anti-blooming keeps this short: only grossly overexposed stars bleed.)
        excess = np.where(over, lum / full_well, 0.0).astype(np.float32)
        if excess.max() > 30.0:
            reach = int(np.clip(np.log2(excess.max() / 30.0) + 1.0, 1, 8))
            kernel = np.ones((2 * reach + 1, 1), np.uint8)
            bleed = cv2.dilate((excess > 30.0).astype(np.uint8), kernel) > 0
            sub[bleed] = np.maximum(sub[bleed], 0.7 * full_well)
    np.minimum(sub, full_well, out=sub)
    return sub


def stack_noise(rng, signal_sub, n_subs: int, read_noise: float):
    """Noise of the mean of ``n_subs`` subs: shot noise of the signal plus read noise.

    ``signal_sub`` is the expected signal of one sub in electrons (sky, dark,
    objects); the Gaussian approximation of the Poisson shot noise is good for
    the counts involved (a few e- per sub, hundreds summed).
    """
    var = (np.maximum(signal_sub, 0.0) + read_noise ** 2) / max(n_subs, 1)
    return (rng.standard_normal(signal_sub.shape, dtype=np.float32) * np.sqrt(var)).astype(np.float32)
