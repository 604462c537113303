"""Turbulent (power-law) random fields for nebular structure."""

from __future__ import annotations

import numpy as np

__all__ = ["fractal_noise"]


def fractal_noise(rng, shape, slope: float = 3.2, coarse: int | None = None) -> np.ndarray:
    """Gaussian random field with power spectrum ``P(k) ~ k**-slope``, zero mean, unit std.

    Interstellar turbulence gives ``slope`` ~ 2.8-3.6 (Kolmogorov 11/3 in 3-D
    projected). The field is drawn at ``1/coarse`` resolution with an FFT and
    resized with OpenCV (cubic): the small scales it loses are smoothed by the
    PSF anyway, and it is ``coarse**2`` times cheaper. ``coarse=None`` derives it
    from the size: ``min(shape) // 48`` clipped to 1..8.
    """
    import cv2

    h, w = int(shape[0]), int(shape[1])
    if coarse is None:
        coarse = int(np.clip(min(h, w) // 48, 1, 8))
    hs, ws = max(8, -(-h // coarse)), max(8, -(-w // coarse))
    white = rng.standard_normal((hs, ws)).astype(np.float32)
    ky = np.fft.fftfreq(hs)[:, None]
    kx = np.fft.rfftfreq(ws)[None, :]
    k = np.sqrt(kx ** 2 + ky ** 2)
    k[0, 0] = 1.0
    spec = np.fft.rfft2(white) * k ** (-slope / 2.0)
    spec[0, 0] = 0.0
    field = np.fft.irfft2(spec, s=(hs, ws)).astype(np.float32)
    field /= field.std() + 1e-12
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
