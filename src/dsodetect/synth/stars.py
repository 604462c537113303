"""Field stars: number counts by magnitude and galactic latitude, colours, rendering."""

from __future__ import annotations

import numpy as np

from .psf import add_point_sources, psf_kernel, splat_sources

__all__ = ["cumulative_counts", "sample_magnitudes", "sample_bv", "StarField", "random_stars",
           "render_stars"]


def cumulative_counts(mag, b_deg) -> np.ndarray:
    """Stars per deg² brighter than ``mag`` (V) at galactic latitude ``b_deg``.

    A quadratic fit in ``log N`` to the all-sky averages (N(<6) ~ 0.12,
    N(<10) ~ 8.5, N(<15) ~ 650, N(<20) ~ 24000 per deg², Bahcall & Soneira
    1980), scaled from ~1/2 of the mean at the galactic poles to ~4-6x in the
    plane; the contrast grows for fainter stars (disk stars dominate).
    """
    m = np.asarray(mag, dtype=np.float64) - 10.0
    log_n = 0.93 + 0.407 * m - 0.0062 * m ** 2
    lat = -0.3 + 0.9 * np.exp(-np.abs(b_deg) / 15.0)
    return 10.0 ** (log_n + lat * (1.0 + 0.04 * m))


def sample_magnitudes(rng, n_per_deg2_area: float, b_deg: float, m_bright: float, m_faint: float):
    """Draw magnitudes between ``m_bright`` and ``m_faint`` following :func:`cumulative_counts`.

    ``n_per_deg2_area`` is the field area in deg²; returns a Poisson-sized sample.
    """
    grid = np.linspace(m_bright, m_faint, 256)
    cum = cumulative_counts(grid, b_deg) * n_per_deg2_area
    cum -= cum[0]
    n = rng.poisson(max(cum[-1], 0.0))
    return np.interp(rng.uniform(0.0, cum[-1], n), cum, grid)


def sample_bv(rng, n: int, b_deg: float = 30.0) -> np.ndarray:
    """B-V colours of field stars: a mix of F/G dwarfs and K giants; redder in the plane (extinction)."""
    giants = rng.random(n) < 0.3
    bv = np.where(giants, rng.normal(1.15, 0.25, n), rng.normal(0.6, 0.22, n))
    bv += rng.exponential(0.25 * np.exp(-abs(b_deg) / 10.0), n)  # reddening near the plane
    return np.clip(bv, -0.3, 2.0)


class StarField:
    """Positions (px), V magnitudes and B-V colours of the stars in a frame."""

    def __init__(self, x, y, mag, bv):
        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        self.mag, self.bv = np.asarray(mag, float), np.asarray(bv, float)

    def __len__(self):
        return self.x.size

    def concat(self, other: "StarField") -> "StarField":
        return StarField(np.r_[self.x, other.x], np.r_[self.y, other.y],
                         np.r_[self.mag, other.mag], np.r_[self.bv, other.bv])


def random_stars(rng, width: int, height: int, scale: float, b_deg: float, m_faint: float,
                 m_bright: float = 3.0, max_stars: int = 30000) -> StarField:
    """Uniformly placed field stars down to ``m_faint`` for a frame of ``scale`` arcsec/px."""
    area = width * height * (scale / 3600.0) ** 2
    mags = sample_magnitudes(rng, area, b_deg, m_bright, m_faint)
    if mags.size > max_stars:  # keep the brightest: the faint end is below the noise anyway
        mags = np.sort(mags)[:max_stars]
    n = mags.size
    return StarField(rng.uniform(-0.5, width - 0.5, n), rng.uniform(-0.5, height - 0.5, n),
                     mags, sample_bv(rng, n, b_deg))


def render_stars(image, stars: StarField, flux, colours, fwhm, beta, *, ellipticity=0.0, theta=0.0,
                 halo_level: float = 2e5):
    """Stamp stars into an ``(H, W, 3)`` e-/s image.

    Stamps grow with brightness so that bright stars keep their wings;
    stars above ``halo_level`` e-/s also get a faint wide halo (scattered
    light in the objective and the sensor window), as on the real images.
    """
    flux = np.asarray(flux, dtype=np.float64)
    # Faint and medium stars: one convolution of a point image with the PSF.
    faint = flux < 1e5
    kernel = psf_kernel(fwhm, beta, max(6, int(6 * fwhm)), ellipticity, theta)
    splat_sources(image, stars.x[faint], stars.y[faint], flux[faint], kernel, colours[faint])
    # Bright stars: their own wide stamps so that the wings reach far out.
    sel = ~faint
    if sel.any():
        add_point_sources(image, stars.x[sel], stars.y[sel], flux[sel], fwhm, beta, half=max(30, int(15 * fwhm)),
                          ellipticity=ellipticity, theta=theta, colours=colours[sel])
    bright = flux >= halo_level
    if bright.any():
        # Halo: 3 % of the flux in a broad, shallow Moffat.
        add_point_sources(image, stars.x[bright], stars.y[bright], 0.03 * flux[bright], 12 * fwhm, 1.6,
                          half=max(40, int(30 * fwhm)), colours=colours[bright])
    return image
