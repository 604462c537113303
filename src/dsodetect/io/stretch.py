"""Display stretches: linear sky data -> [0, 1] for viewing and rendering."""

from __future__ import annotations

import numpy as np

__all__ = ["auto_stretch", "color_stretch", "neutralize_background", "asinh_stretch", "to_uint8", "mtf"]


def mtf(m: float, x: np.ndarray) -> np.ndarray:
    """PixInsight's midtones transfer function."""
    return ((m - 1.0) * x) / ((2.0 * m - 1.0) * x - m)


def auto_stretch(data: np.ndarray, mask: np.ndarray | None = None, *,
                 shadows_clip: float = -2.8, target_bkg: float = 0.25,
                 linked: bool = True) -> np.ndarray:
    """PixInsight-style screen transfer function (auto STF).

    Shadows are clipped at ``median + shadows_clip * 1.4826 * MAD`` and the
    midtones balance maps the median to ``target_bkg``.

    Parameters
    ----------
    data : ndarray
        ``(H, W)`` or ``(H, W, 3)`` linear pixels.
    mask : ndarray of bool, optional
        True for pixels to ignore when measuring statistics.
    linked : bool
        Use one set of statistics for all channels (keeps star colours).

    Returns
    -------
    ndarray
        float32 in [0, 1].
    """
    x = np.asarray(data, dtype=np.float32)
    sample = _sample(x, mask)
    lo, hi = float(np.min(sample)), float(np.max(sample))
    if hi <= lo:
        return np.zeros_like(x)
    sample = (sample - lo) / (hi - lo)

    def params(s):
        from astropy.stats import mad_std  # here, not at the top: astropy.units is slow to load

        med = float(np.median(s))
        mad = float(mad_std(s))
        c0 = min(max(med + shadows_clip * mad, 0.0), 1.0)
        m = mtf(target_bkg, np.asarray(med - c0, dtype=np.float64))
        return c0, float(np.clip(m, 1e-4, 0.9999))

    if x.ndim == 2 or linked:
        return _stf(x, lo, hi, *params(sample), out=np.empty_like(x))
    out = np.empty_like(x)
    for c in range(x.shape[2]):
        _stf(x[:, :, c], lo, hi, *params(sample[:, c]), out=out[:, :, c])
    return out


def _sample(x: np.ndarray, mask: np.ndarray | None, n: int = 500_000) -> np.ndarray:
    """About ``n`` valid pixels (rows of channels for colour) for statistics, every k-th in raster order.

    Without masked pixels the sample is a strided view: a full frame is not copied to be subsampled.
    """
    if mask is None or not mask.any():
        flat = x.reshape(x.shape[0] * x.shape[1], -1) if x.ndim == 3 else x.reshape(-1)
        return flat[:: flat.shape[0] // n + 1] if flat.size > n else flat
    sample = x[~mask]
    return sample[:: sample.shape[0] // n + 1] if sample.size > n else sample


def _stf(x: np.ndarray, lo: float, hi: float, c0: float, m: float, *, out: np.ndarray) -> np.ndarray:
    """``mtf(m, clip(((x - lo) / (hi - lo) - c0) / (1 - c0), 0, 1))`` into ``out``, in place: a full
    frame is 19 M values, and each temporary of the plain expression costs as much as the arithmetic."""
    span = hi - lo
    np.subtract(x, lo + c0 * span, out=out)
    out *= 1.0 / (span * max(1.0 - c0, 1e-6))
    np.clip(out, 0.0, 1.0, out=out)
    den = out * (2.0 * m - 1.0)
    den -= m
    out *= m - 1.0
    out /= den
    return np.clip(out, 0.0, 1.0, out=out)


def neutralize_background(data: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Subtract each channel's sky so that the three skies are equal (PixInsight BackgroundNeutralization,
    Siril "background neutralisation"): a light-pollution cast goes, the objects' own colours stay.

    The sky of a channel is its median over the darkest quarter of the valid
    pixels (by luminance: a nebula may fill half the frame); every channel is
    brought down to the lowest one. Mono data is returned unchanged.
    """
    x = np.asarray(data, dtype=np.float32)
    if x.ndim != 3:
        return x
    sample = _sample(x, mask)
    # The sky, not the nebula that may fill half the frame: the darkest quarter of the pixels by luminance.
    lum = sample.mean(axis=1)
    dark = sample[lum <= np.percentile(lum, 25)]
    sky = np.median(dark if len(dark) >= 16 else sample, axis=0)
    return x - (sky - sky.min()).astype(np.float32)


def color_stretch(data: np.ndarray, mask: np.ndarray | None = None, *, shadows_clip: float = -2.8,
                  target_bkg: float = 0.25) -> np.ndarray:
    """Colour-preserving auto-stretch of a linear RGB stack: background neutralisation, then one
    *linked* screen transfer function (the Siril / PixInsight auto-stretch convention for colour data).

    An unlinked stretch equalises each channel's whole histogram and with it
    the colour of the nebulae (a red H-alpha region comes out lavender-grey);
    a linked one without neutralisation keeps the sky's light-pollution cast.
    Neutralising the sky first and then stretching all channels alike gives
    a neutral sky and the objects' colours, as the apps' JPEGs show. Mono data
    gets the plain :func:`auto_stretch`.
    """
    x = np.asarray(data, dtype=np.float32)
    if x.ndim != 3:
        return auto_stretch(x, mask, shadows_clip=shadows_clip, target_bkg=target_bkg)
    return auto_stretch(neutralize_background(x, mask), mask, shadows_clip=shadows_clip,
                        target_bkg=target_bkg, linked=True)


def asinh_stretch(data: np.ndarray, a: float = 0.1, mask: np.ndarray | None = None) -> np.ndarray:
    """Asinh stretch after a 0.5 / 99.95 percentile normalisation (astropy.visualization)."""
    from astropy.visualization import AsinhStretch, AsymmetricPercentileInterval

    x = np.asarray(data, dtype=np.float32)
    sample = x[~mask] if mask is not None else x
    vmin, vmax = AsymmetricPercentileInterval(0.5, 99.95).get_limits(sample)
    y = np.clip((x - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    return AsinhStretch(a)(y).astype(np.float32)


def to_uint8(display: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 for writing PNG/JPEG."""
    display = np.asarray(display)
    out = np.clip(display, 0.0, 1.0, dtype=np.result_type(display.dtype, np.float32))  # one temporary, then in place
    out *= 255.0
    out += 0.5
    return out.astype(np.uint8)
