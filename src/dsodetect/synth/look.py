"""The smart-telescope look: the app's stretch, colour balance and JPEG compression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.stretch import mtf

__all__ = ["AppLook", "random_look", "app_stretch", "jpeg_roundtrip"]


@dataclass
class AppLook:
    """How an app turns the linear stack into the JPEG it shows and saves.

    Attributes
    ----------
    background : float
        Output level of the sky background (real app JPEGs: ~0.03-0.12).
    black_sigma : float
        Black point, in background noise units below the sky level.
    white_percentile : float
        Percentile of the luminance mapped to white (stars saturate above).
    saturation : float
        Chroma boost the apps apply after stretching (colourful stars and nebulae).
    denoise : float
        Gaussian sigma (px) of the app's noise reduction on the stretched
        image (0: none); some apps smooth the sky to a few tenths of a DN.
    cast : tuple of float
        Residual colour cast of the background (multipliers of ``background``);
        apps neutralise the sky only roughly (real JPEGs lean red/magenta).
    quality : int
        JPEG quality.
    """

    background: float = 0.05
    black_sigma: float = 4.0
    white_percentile: float = 99.97
    cast: tuple = (1.25, 1.0, 1.15)
    quality: int = 90
    saturation: float = 1.5
    denoise: float = 0.0


def random_look(rng) -> AppLook:
    """A look drawn around the statistics of real Stellina / Vespera JPEGs."""
    bg = float(np.exp(rng.normal(np.log(0.042), 0.55)))
    cast = (float(rng.normal(1.12, 0.08)), 1.0, float(rng.normal(1.06, 0.07)))
    denoise = float(rng.uniform(0.5, 0.9)) if rng.random() < 0.2 else 0.0
    return AppLook(background=float(np.clip(bg, 0.015, 0.2)), denoise=denoise, black_sigma=float(rng.uniform(2.0, 5.0)),
                  
                   white_percentile=float(rng.uniform(99.0, 99.9)), cast=cast,
                   quality=int(rng.integers(80, 96)), saturation=float(rng.uniform(1.0, 1.7)))


def app_stretch(linear, background, sigma, look: AppLook) -> np.ndarray:
    """Stretch an ``(H, W, 3)`` linear stack to [0, 1] like the apps do.

    Parameters
    ----------
    linear : ndarray
        Linear pixels.
    background, sigma : array_like
        Per-channel sky level and noise of ``linear``.
    """
    x = np.asarray(linear, np.float32)
    bg = np.asarray(background, np.float32).reshape(1, 1, -1)
    sig = np.asarray(sigma, np.float32).reshape(1, 1, -1)
    black = bg - look.black_sigma * sig
    sample = x[::4, ::4].mean(axis=2)
    white = float(np.percentile(sample, look.white_percentile))
    white = max(white, float((bg + 50 * sig).max()))
    y = np.clip((x - black) / (white - black), 0.0, 1.0)
    # Per channel midtones so that each channel's sky lands on its target:
    # this is the app's colour balance (with its residual cast).
    y0 = ((bg - black) / (white - black)).reshape(-1)
    out = np.empty_like(y)
    for c in range(y.shape[2]):
        target = float(np.clip(look.background * look.cast[c], 0.005, 0.5))
        x0 = float(np.clip(y0[c], 1e-6, 0.999))
        # Solve MTF(m, x0) = target for m.
        m = x0 * (target - 1.0) / (2 * x0 * target - x0 - target)
        out[:, :, c] = mtf(float(np.clip(m, 1e-5, 0.99999)), y[:, :, c])
    if look.denoise > 0:
        import cv2

        out = cv2.GaussianBlur(out, (0, 0), look.denoise)
    if look.saturation != 1.0:
        grey = ((out[..., 0] + out[..., 1] + out[..., 2]) / 3.0)[..., None]
        out = np.clip(grey + look.saturation * (out - grey), 0.0, 1.0)
    return out


def jpeg_roundtrip(rgb_uint8: np.ndarray, quality: int) -> tuple[np.ndarray, bytes]:
    """Encode to JPEG like the app and decode back; returns the decoded RGB and the bytes."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb_uint8[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise RuntimeError("JPEG encoding failed")
    data = buf.tobytes()
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return np.ascontiguousarray(dec), data
