"""Facts smart-telescope apps write into FITS headers, validated before use.

A header is untrusted input: ``EXPTIME = 1e308``, ``FOCALLEN = 'abc'``,
``XPIXSZ = -3`` or ``DEC = 'NaN'`` are all legal FITS. Every number read here
goes through :func:`header_number`, which returns it only when it is finite and
physically plausible for its kind (:data:`PLAUSIBLE`); otherwise it issues a
:class:`HeaderValueWarning` naming the keyword and the value, and the value is
ignored as if the keyword were missing. Nothing non-finite or absurd can
therefore reach a computation, a store or a JSON file.
"""

from __future__ import annotations

import math
import warnings

from ..detection import DsodetectWarning

__all__ = ["integration_time", "header_number", "header_wcs_problem", "HeaderValueWarning", "PLAUSIBLE"]


class HeaderValueWarning(DsodetectWarning):
    """A FITS header number that is not a finite, plausible value for its keyword; it was ignored."""


#: Accepted range (inclusive) per kind of header number. Wide enough for any
#: real instrument, narrow enough to stop garbage: a total integration up to
#: 1000 h, a sub-frame up to a day, focal lengths of 1 mm to 100 m, pixels of
#: 0.1 to 100 µm, pixel scales of 0.001"/px to 1 deg/px.
PLAUSIBLE = {
    "exposure": (1e-6, 3.6e6),      # seconds (a total or one sub-frame)
    "count": (1.0, 1e7),            # frames stacked
    "focal_length": (1.0, 1e5),     # mm
    "pixel_size": (0.1, 100.0),     # µm
    "binning": (1.0, 64.0),
    "pixel_scale": (1e-3, 3600.0),  # arcsec/px
    "ra": (-360.0, 360.0),          # degrees (wrapped to [0, 360) by callers)
    "dec": (-90.0, 90.0),           # degrees
}


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def header_number(header, key: str, kind: str, *, warn: bool = True) -> float | None:
    """``header[key]`` as a float when it is finite and within ``PLAUSIBLE[kind]``, else None.

    A missing keyword is silently None; a present but unusable one (not a
    number, NaN, infinite, out of range) warns with :class:`HeaderValueWarning`
    (unless ``warn`` is False) and is None. Booleans are not numbers.
    """
    lo, hi = PLAUSIBLE[kind]
    if header is None:
        return None
    try:
        if key not in header:
            return None
        raw = header[key]
    except Exception:  # a broken card
        raw = None
    value = None
    if not isinstance(raw, bool):
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            value = None
    if value is not None and math.isfinite(value) and lo <= value <= hi:
        return value
    if warn:
        warnings.warn(f"FITS header {key} = {_describe(raw)} is not a plausible {kind.replace('_', ' ')} "
                      f"(finite, {lo:g} to {hi:g}); ignored", HeaderValueWarning, stacklevel=2)
    return None


def _first(header, kind, *keys):
    for key in keys:
        value = header_number(header, key, kind)
        if value is not None:
            return value
    return None


def integration_time(header) -> float | None:
    """Total integration time (s) written in a FITS header, or None.

    Looks, in order, at ``TOTALEXP`` and ``LIVETIME`` (totals); ``SUBEXP``
    (one sub-frame, so ``EXPTIME`` is already the total) times ``STACKCNT``,
    ``NCOMBINE`` or ``NSTACK``; that count times ``EXPTIME``/``EXPOSURE``
    (Seestar-style: ``EXPTIME`` is one sub-frame); then ``EXPTIME``/``EXPOSURE``
    alone. Values that are not finite and plausible are ignored (with a
    :class:`HeaderValueWarning`), and so is a product beyond the plausible
    total: the result is always None or a finite number of seconds.
    """
    if header is None:
        return None
    total = _first(header, "exposure", "TOTALEXP", "LIVETIME")
    if total:
        return total
    exptime = _first(header, "exposure", "EXPTIME", "EXPOSURE")
    count = _first(header, "count", "STACKCNT", "NCOMBINE", "NSTACK")
    sub = header_number(header, "SUBEXP", "exposure")
    for one in (sub, exptime):
        if one and count:
            product = one * count
            if product <= PLAUSIBLE["exposure"][1]:
                return product
            warnings.warn(f"FITS header sub-frame time {one:g} s x {count:g} frames is not a plausible "
                          f"total; ignored", HeaderValueWarning, stacklevel=2)
    return exptime


#: Keywords of a linear celestial WCS that must be finite numbers when present.
_WCS_NUMBERS = ("CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CD1_1", "CD1_2", "CD2_1", "CD2_2",
                "PC1_1", "PC1_2", "PC2_1", "PC2_2", "CROTA2")


def _wcs_number(header, key):
    """``(value, problem)``: a FITS number must be an int or float card, finite."""
    try:
        raw = header[key]
    except Exception:
        return None, f"{key} is unreadable"
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None, f"{key} = {_describe(raw)} is not a number"
    if not math.isfinite(raw):
        return None, f"{key} = {raw!r} is not finite"
    return float(raw), None


def header_wcs_problem(header, wcs=None) -> str | None:
    """Why a header's celestial WCS must not be trusted, or None when it is plausible.

    Checked: ``CRVAL1``/``CRVAL2`` and ``CRPIX1``/``CRPIX2`` present and
    finite numbers (astropy silently reads ``CRVAL1 = 'abc'`` as 0); every
    ``CD``/``PC``/``CDELT`` present a finite number; the declination within
    ±90°; and, given the astropy ``wcs``, a non-degenerate pixel scale within
    ``PLAUSIBLE["pixel_scale"]`` (``CDELT1 = 1e-12`` is 3.6e-9"/px) and a
    finite sky position at the reference pixel. Returns None too when the
    header has no celestial WCS at all (``CTYPE1``/``CTYPE2`` missing).
    """
    if header is None or "CTYPE1" not in header or "CTYPE2" not in header:
        return None
    values = {}
    for key in ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"):
        if key not in header:
            return f"{key} is missing"
    for key in ("CRVAL1", "CRVAL2") + _WCS_NUMBERS:
        if key in header:
            values[key], problem = _wcs_number(header, key)
            if problem:
                return problem
    lo, hi = PLAUSIBLE["ra"]
    if not lo <= values["CRVAL1"] <= hi:
        return f"CRVAL1 = {values['CRVAL1']:g} is not a right ascension"
    if not -90.0 <= values["CRVAL2"] <= 90.0:
        return f"CRVAL2 = {values['CRVAL2']:g} is not a declination"
    if wcs is None:
        return None
    try:
        import numpy as np

        m = np.asarray(wcs.celestial.pixel_scale_matrix, dtype=float)
        det = abs(float(np.linalg.det(m)))
        crpix = wcs.celestial.wcs.crpix
        sky = wcs.celestial.all_pix2world([[crpix[0] - 1, crpix[1] - 1]], 0)
    except Exception as exc:
        return f"the WCS cannot be evaluated ({type(exc).__name__})"
    if not (np.all(np.isfinite(m)) and det > 0):
        return "the WCS pixel scale matrix is degenerate or not finite"
    scale = math.sqrt(det) * 3600.0
    lo, hi = PLAUSIBLE["pixel_scale"]
    if not lo <= scale <= hi:
        return f"the WCS pixel scale {scale:.3g}\"/px is not plausible ({lo:g} to {hi:g}\"/px)"
    if not np.all(np.isfinite(sky)):
        return "the WCS gives no finite sky position at its reference pixel"
    return None
