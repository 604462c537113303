"""Facts smart-telescope apps write into FITS headers."""

from __future__ import annotations

__all__ = ["integration_time"]


def _number(header, key):
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def _first(header, *keys):
    for key in keys:
        value = _number(header, key)
        if value:
            return value
    return None


def integration_time(header) -> float | None:
    """Total integration time (s) written in a FITS header, or None.

    Looks, in order, at ``TOTALEXP`` and ``LIVETIME`` (totals); ``SUBEXP``
    (one sub-frame, so ``EXPTIME`` is already the total) times ``STACKCNT``,
    ``NCOMBINE`` or ``NSTACK``; that count times ``EXPTIME``/``EXPOSURE``
    (Seestar-style: ``EXPTIME`` is one sub-frame); then ``EXPTIME``/``EXPOSURE``
    alone.
    """
    if header is None:
        return None
    total = _first(header, "TOTALEXP", "LIVETIME")
    if total:
        return total
    exptime = _first(header, "EXPTIME", "EXPOSURE")
    count = _first(header, "STACKCNT", "NCOMBINE", "NSTACK")
    sub = _number(header, "SUBEXP")
    if sub and count:
        return sub * count
    if exptime and count:
        return exptime * count
    return exptime
