"""Magnitudes to electrons, star colours, sky brightness, galactic latitude."""

from __future__ import annotations

import numpy as np

__all__ = ["ZERO_POINT_PH", "flux_e_s", "mag_from_surface_brightness", "bv_to_temperature",
           "temperature_rgb", "BORTLE_SKY_MAG", "galactic_latitude"]

#: Photons / s / m² from a V = 0 source over the broad R+G+B pass band
#: (~1000 photons/s/cm²/Å at 550 nm times ~3000 Å of colour-filter bands).
ZERO_POINT_PH = 3.0e10

#: Zenith sky surface brightness (V mag/arcsec²) by Bortle class.
BORTLE_SKY_MAG = {1: 21.9, 2: 21.7, 3: 21.4, 4: 20.8, 5: 20.1, 6: 19.4, 7: 18.8, 8: 18.2, 9: 17.6}

# Effective wavelengths (nm) of the R, G, B filters of the colour sensors.
_LAMBDA_NM = np.array([610.0, 535.0, 465.0])


def flux_e_s(mag, preset) -> np.ndarray:
    """Electrons per second *per colour channel* (mean of R, G, B) from a V magnitude."""
    total = ZERO_POINT_PH * preset.area_m2 * preset.qe * 10.0 ** (-0.4 * np.asarray(mag, dtype=np.float64))
    return total / 3.0


def mag_from_surface_brightness(mu, area_arcsec2):
    """Total magnitude of a region of ``area_arcsec2`` at mean surface brightness ``mu``."""
    return np.asarray(mu) - 2.5 * np.log10(np.maximum(area_arcsec2, 1e-9))


def bv_to_temperature(bv) -> np.ndarray:
    """Ballesteros (2012) colour index -> effective temperature in K."""
    bv = np.clip(np.asarray(bv, dtype=np.float64), -0.4, 2.0)
    return 4600.0 * (1.0 / (0.92 * bv + 1.7) + 1.0 / (0.92 * bv + 0.62))


def _planck(t, lam_nm):
    lam = lam_nm * 1e-9
    x = 6.62607e-34 * 2.99792e8 / (lam * 1.380649e-23 * np.asarray(t, dtype=np.float64)[..., None])
    return 1.0 / (lam ** 5 * np.expm1(np.minimum(x, 700.0)))


def temperature_rgb(t) -> np.ndarray:
    """Relative R, G, B flux of a black body, white for a G2V star, mean 1.

    Returns ``(..., 3)``: multiply a per-channel mean flux by it.
    """
    rel = _planck(t, _LAMBDA_NM) / _planck(5800.0, _LAMBDA_NM)
    return rel / rel.mean(axis=-1, keepdims=True)


# North galactic pole and node (J2000), for the latitude formula.
_RA_GP, _DEC_GP = np.radians(192.85948), np.radians(27.12825)


def galactic_latitude(ra_deg, dec_deg) -> np.ndarray:
    """Galactic latitude in degrees of equatorial (ICRS/J2000) coordinates."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    sinb = np.sin(dec) * np.sin(_DEC_GP) + np.cos(dec) * np.cos(_DEC_GP) * np.cos(ra - _RA_GP)
    return np.degrees(np.arcsin(np.clip(sinb, -1.0, 1.0)))
