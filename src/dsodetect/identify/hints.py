"""Pointing and pixel-scale hints for the plate solver, from FITS headers or a telescope preset.

Smart telescopes write where they pointed and their optics into the FITS header
without a full WCS: Seestar writes ``RA``/``DEC`` (degrees), ``FOCALLEN`` (mm)
and ``XPIXSZ`` (µm); other capture software writes ``OBJCTRA``/``OBJCTDEC``
(sexagesimal strings), ``PIXSIZE1``, ``XBINNING``, ``SCALE``/``PIXSCALE``
(arcsec/px). A hint narrows astrometry.net's search to a position and a
scale range, which turns a blind solve of tens of seconds into a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..io.headers import PLAUSIBLE, header_number
from ..telescopes import PRESETS, pixel_scale

__all__ = ["Hint", "hint_from_header", "hint_from_shape"]


@dataclass
class Hint:
    """What is known before solving. Any field may be None.

    Attributes
    ----------
    ra, dec : float or None
        Approximate field centre, degrees.
    radius_deg : float
        How far the true centre may be from ``ra, dec``.
    scale_low, scale_high : float or None
        Pixel-scale bounds, arcsec/px.
    source : str
        Where the hint came from (header keywords, preset name).
    """

    ra: float | None = None
    dec: float | None = None
    radius_deg: float = 2.0
    scale_low: float | None = None
    scale_high: float | None = None
    source: str = ""

    @property
    def has_position(self) -> bool:
        return self.ra is not None and self.dec is not None

    @property
    def has_scale(self) -> bool:
        return self.scale_low is not None and self.scale_high is not None

    @property
    def empty(self) -> bool:
        return not (self.has_position or self.has_scale)

    @classmethod
    def from_scale(cls, scale_arcsec: float, tolerance: float = 0.1, **kw) -> "Hint":
        """Scale bounds ``scale * (1 ± tolerance)``."""
        return cls(scale_low=scale_arcsec * (1 - tolerance), scale_high=scale_arcsec * (1 + tolerance), **kw)


def _float(header, kind, *keys):
    """The first of ``keys`` holding a finite, plausible ``kind`` number
    (:func:`~dsodetect.io.headers.header_number`, which warns about the others)."""
    for k in keys:
        v = header_number(header, k, kind)
        if v is not None:
            return v, k
    return None, None


def _angle(header, key, unit):
    """A sexagesimal or decimal angle string ('11 20 15.0', '+13:35:22') in degrees."""
    if key not in header:
        return None
    from astropy.coordinates import Angle

    text = str(header[key]).strip()[:40]
    try:  # Angle parses '11 20 15.0', '+13:35:22', '11:20', '11h20m15s' and decimals
        value = float(Angle(text, unit=unit).degree)
    except Exception:
        return None
    return value if math.isfinite(value) else None


def hint_from_header(header, radius_deg: float = 2.0, scale_tolerance: float = 0.1) -> Hint:
    """Pointing and scale hint from FITS keywords; an empty :class:`Hint` when there are none.

    Position: ``RA``/``DEC`` (degrees), else ``OBJCTRA``/``OBJCTDEC``
    (sexagesimal), else ``CRVAL1``/``CRVAL2`` of a partial WCS. Scale:
    ``SCALE``/``PIXSCALE``/``SECPIX`` (arcsec/px), else ``FOCALLEN`` with
    ``XPIXSZ``/``PIXSIZE1`` times ``XBINNING``. Values that are not finite
    and plausible (a focal length of 0, a declination beyond ±90°, ``NaN``,
    ``1e308``; ranges in :data:`~dsodetect.io.headers.PLAUSIBLE`) are ignored
    with a :class:`~dsodetect.io.headers.HeaderValueWarning`.
    """
    if header is None:
        return Hint()
    used = []
    ra, kra = _float(header, "ra", "RA", "RA_OBJ", "OBJRA")
    dec, kdec = _float(header, "dec", "DEC", "DEC_OBJ", "OBJDEC")
    if ra is not None and dec is not None:
        used.append(f"{kra}/{kdec}")
    else:
        ra, dec = _angle(header, "OBJCTRA", "hourangle"), _angle(header, "OBJCTDEC", "deg")
        if ra is not None and dec is not None:
            used.append("OBJCTRA/OBJCTDEC")
        else:
            ra, _ = _float(header, "ra", "CRVAL1")
            dec, _ = _float(header, "dec", "CRVAL2")
            if ra is not None and dec is not None:
                used.append("CRVAL1/CRVAL2")
    if ra is None or dec is None or not (-90.0 <= dec <= 90.0):
        ra = dec = None
        used = []
    else:
        ra %= 360.0
        if ra >= 360.0:  # a tiny negative RA wraps to exactly 360.0 in floating point
            ra = 0.0
    scale, kscale = _float(header, "pixel_scale", "SCALE", "PIXSCALE", "SECPIX", "SECPIX1")
    if scale is not None:
        used.append(kscale)
    else:
        scale = None
        focal, _ = _float(header, "focal_length", "FOCALLEN", "FOCAL")
        pixel, kpixel = _float(header, "pixel_size", "XPIXSZ", "PIXSIZE1", "PIXSIZE")
        binning, _ = _float(header, "binning", "XBINNING", "BINNING")
        if focal and pixel:
            # XPIXSZ is usually already binned (MaxIm DL); PIXSIZE1 is not.
            b = 1 if kpixel == "XPIXSZ" else int(binning or 1)
            scale = pixel_scale(focal, pixel, b)
            lo, hi = PLAUSIBLE["pixel_scale"]
            if not (math.isfinite(scale) and lo <= scale <= hi):
                scale = None
            else:
                used.append("FOCALLEN+pixel size")
    kw = dict(ra=ra, dec=dec, radius_deg=radius_deg, source=", ".join(used))
    return Hint.from_scale(scale, scale_tolerance, **kw) if scale is not None else Hint(**kw)


def hint_from_shape(width: int, height: int, tolerance: float = 0.1) -> Hint:
    """Scale hint when the frame size is a preset's full frame (either orientation), else empty.

    App JPEGs carry no header, but a 3096x2080 frame is a Stellina's and a
    1920x1080 one a Vespera's or a Seestar's: the scale range then spans the
    presets of that size.
    """
    scales = [p.scale for p in PRESETS.values() if {p.width, p.height} == {width, height}]
    if not scales:
        return Hint()
    return Hint(scale_low=min(scales) * (1 - tolerance), scale_high=max(scales) * (1 + tolerance),
                source="frame size of " + "/".join(n for n, p in PRESETS.items() if {p.width, p.height} == {width, height}))
