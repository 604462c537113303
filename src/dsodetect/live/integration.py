"""Integration time of a stack: FITS headers first, then the file name, then file times."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["integration_seconds", "header_integration", "name_integration"]

# Seestar names its stacks "Stacked_<n>_<target>_<exp>s_<filter>_<date>.fit".
_SEESTAR = re.compile(r"Stacked_(\d+)_.*?_(\d+(?:\.\d+)?)s(?:_|$)", re.IGNORECASE)


def _number(header, key):
    try:
        value = float(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value > 0 else None


def header_integration(header) -> float | None:
    """Total integration time (s) written in a FITS header, or None.

    Looks, in order, at ``TOTALEXP`` and ``LIVETIME`` (totals); ``SUBEXP``
    (one sub-frame, so ``EXPTIME`` is already the total) times ``STACKCNT``
    or ``NCOMBINE``; ``STACKCNT``/``NCOMBINE`` times ``EXPTIME``/``EXPOSURE``
    (Seestar-style: ``EXPTIME`` is one sub-frame); then ``EXPTIME``/``EXPOSURE``
    alone.
    """
    if header is None:
        return None
    for key in ("TOTALEXP", "LIVETIME"):
        total = _number(header, key)
        if total:
            return total
    exptime = _number(header, "EXPTIME") or _number(header, "EXPOSURE")
    count = _number(header, "STACKCNT") or _number(header, "NCOMBINE")
    sub = _number(header, "SUBEXP")
    if sub and count:
        return sub * count
    if sub and exptime:
        return exptime
    if exptime and count:
        return exptime * count
    return exptime


def name_integration(path) -> float | None:
    """Integration time (s) encoded in a Seestar-style file name, or None."""
    m = _SEESTAR.search(Path(path).name)
    if not m:
        return None
    return int(m.group(1)) * float(m.group(2))


def integration_seconds(header=None, path=None, *, session_start: float | None = None,
                        mtime: float | None = None) -> tuple[float | None, str]:
    """Best estimate of a stack's integration time.

    Parameters
    ----------
    header : astropy.io.fits.Header, optional
    path : path-like, optional
        The stack's file (its name may encode the time; its mtime is the fallback).
    session_start : float, optional
        Unix time the session started; with the file's modification time it
        gives elapsed wall time, an upper bound on integration used when
        nothing better is known.
    mtime : float, optional
        Overrides the file's modification time.

    Returns
    -------
    seconds : float or None
    source : str
        ``"header"``, ``"filename"``, ``"file-times"`` or ``"unknown"``.
    """
    t = header_integration(header)
    if t:
        return t, "header"
    if path is not None:
        t = name_integration(path)
        if t:
            return t, "filename"
    if session_start is not None:
        if mtime is None and path is not None:
            try:
                mtime = Path(path).stat().st_mtime
            except OSError:
                mtime = None
        if mtime is not None and mtime - session_start > 0:
            return float(mtime - session_start), "file-times"
    return None, "unknown"
