"""Integration time of a stack: FITS headers first, then the file name, then file times."""

from __future__ import annotations

import re
from pathlib import Path

from ..io.headers import integration_time

__all__ = ["integration_seconds", "name_integration"]

# Seestar names its stacks "Stacked_<n>_<target>_<exp>s_<filter>_<date>.fit".
_SEESTAR = re.compile(r"Stacked_(\d+)_.*?_(\d+(?:\.\d+)?)s(?:_|$)", re.IGNORECASE)


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
    t = integration_time(header)
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
