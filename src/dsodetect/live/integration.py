"""Integration time of a stack, and how it is known.

In this order (documented in docs/live.md, "Integration time"):

1. **FITS header** (:func:`dsodetect.io.headers.integration_time`): ``TOTALEXP``/``LIVETIME``;
   ``SUBEXP`` x ``STACKCNT``/``NCOMBINE``; ``STACKCNT``/``NCOMBINE`` x ``EXPTIME`` (Seestar);
   ``EXPTIME``/``EXPOSURE`` (Vaonis Vespera/Stellina FITS exports and most capture software).
2. **The app's sidecar**: a Dwarf (II, 3) writes ``shotsInfo.json`` beside each session's
   files (``"exp"``: sub-exposure in seconds, ``"shotsStacked"``: frames in the stack);
   integration = ``exp`` x ``shotsStacked``.
3. **The file name**: Seestar's ``Stacked_<n>_<target>_<exp>s_<filter>_<date>.fit`` (also its
   JPEG exports) -> ``n x exp``; names that state the time with a unit (``M42_1800s.jpg``,
   ``M42_30min.jpg``, ``M42_1.5h.jpg``, ``M42_120x10s.jpg``). A bare number (``M42_1800.jpg``) is
   not read: it could be anything.
4. **Estimated** from file times: the file's modification time minus the session start (the
   wall time the watcher has been running; an app that was stacking before the watcher started
   makes it an underestimate). Shown as estimated, never used for time-to-detection fits.
5. **Unknown**.

Vespera and Stellina JPEG exports (Singularity app) carry no integration time in their names or
EXIF as far as we could find: they come out "estimated" or "unknown".

Within a session the time never decreases (:class:`SessionClock`): stacks only grow.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..io.headers import integration_time

__all__ = ["integration_seconds", "name_integration", "sidecar_integration", "is_known", "KNOWN_SOURCES",
           "SessionClock", "describe_time"]

#: Sources that measure the integration (as opposed to estimating it from file times).
KNOWN_SOURCES = frozenset({"header", "sidecar", "filename"})

# Seestar names its stacks "Stacked_<n>_<target>_<exp>s_<filter>_<date>.fit".
_SEESTAR = re.compile(r"Stacked_(\d+)_.*?_(\d+(?:\.\d+)?)s(?:_|$)", re.IGNORECASE)
# "120x10s" / "120 x 10 s": frames x sub-exposure.
_FRAMES = re.compile(r"(?:^|[_\-\s.(])(\d{1,6})\s*[x\u00d7]\s*(\d+(?:\.\d+)?)\s*s(?:ec)?(?=$|[_\-\s.)])",
                     re.IGNORECASE)
# "1800s", "30min", "1.5h", "2h30m" as a token of their own.
_DURATION = re.compile(r"(?:^|[_\-\s.(])(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*(?:min|m))?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*(?:s|sec))?(?=$|[_\-\s.)])", re.IGNORECASE)
_UNITS_MAX = 3.6e6


def is_known(source: str | None) -> bool:
    """True for a measured time (header, sidecar, file name), False for estimated or unknown."""
    return source in KNOWN_SOURCES


def name_integration(path) -> float | None:
    """Integration time (s) stated in a file name, or None.

    Seestar's ``Stacked_210_NGC 6992_10.0s_IRCUT_...`` (210 x 10 s), ``..._120x10s...``,
    or a duration with its unit as a token of its own (``_1800s``, ``_30min``, ``_1.5h``).
    """
    stem = re.sub(r"(\.(?:gz|fz|bz2))?$", "", Path(path).name, flags=re.IGNORECASE)
    stem = re.sub(r"\.[A-Za-z]{2,5}$", "", stem)  # the image extension
    m = _SEESTAR.search(Path(path).name)
    if m:
        return _plausible(float(m.group(1)) * float(m.group(2)))  # float: a huge count is inf, not an error
    m = _FRAMES.search(stem)
    if m:
        return _plausible(float(m.group(1)) * float(m.group(2)))  # float: a huge count is inf, not an error
    best = None
    for m in _DURATION.finditer(stem):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        if not any(m.groups()):
            continue
        best = h * 3600 + mi * 60 + s
    return _plausible(best) if best else None


def _plausible(t: float | None) -> float | None:
    return float(t) if t is not None and math.isfinite(t) and 0 < t <= _UNITS_MAX else None


def sidecar_integration(path) -> float | None:
    """Dwarf's ``shotsInfo.json`` beside the stack: ``exp`` (s) x ``shotsStacked``, or None."""
    if path is None:
        return None
    info = Path(path).with_name("shotsInfo.json")
    try:
        if not info.is_file() or info.stat().st_size > 1 << 16:
            return None
        data = json.loads(info.read_text(encoding="utf-8", errors="replace"))
        exp = float(str(data.get("exp", "")).strip().rstrip("s"))
        n = float(data.get("shotsStacked"))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if not (math.isfinite(exp) and math.isfinite(n)) or exp <= 0 or n < 1:
        return None
    return _plausible(exp * n)


def integration_seconds(header=None, path=None, *, session_start: float | None = None,
                        mtime: float | None = None) -> tuple[float | None, str]:
    """Best value of a stack's integration time, and where it came from.

    Parameters
    ----------
    header : astropy.io.fits.Header, optional
    path : path-like, optional
        The stack's file (its name, its folder's sidecar, its mtime).
    session_start : float, optional
        Unix time the session started; with the file's modification time it
        gives the wall time since, used as an *estimate* when nothing better is known.
    mtime : float, optional
        Overrides the file's modification time.

    Returns
    -------
    seconds : float or None
    source : str
        ``"header"``, ``"sidecar"``, ``"filename"`` (measured: :func:`is_known`),
        ``"estimated"`` or ``"unknown"``.
    """
    t = integration_time(header)
    named = name_integration(path) if path is not None else None
    if t:
        m = _SEESTAR.search(Path(path).name) if path is not None else None
        if named and m and abs(t - float(m.group(2))) < 1e-6:
            return named, "filename"  # the header's EXPTIME is one sub-frame; the name says how many
        return t, "header"
    t = sidecar_integration(path)
    if t:
        return t, "sidecar"
    if named:
        return named, "filename"
    if session_start is not None:
        if mtime is None and path is not None:
            try:
                mtime = Path(path).stat().st_mtime
            except OSError:
                mtime = None
        if mtime is not None and mtime - session_start > 0:
            return float(mtime - session_start), "estimated"
    return None, "unknown"


class SessionClock:
    """Integration within one session never decreases: the telescope's stack only grows.

    ``clock.update(seconds, source)`` returns the time to record: a value
    below the largest one seen so far (an estimate after a measured time, a
    re-export of an earlier stack) is held at that largest value, with the
    source ``"held"`` (shown as "at least"); an unknown time after a known
    one is held too.
    """

    def __init__(self, seconds: float | None = None):
        self.max = seconds if seconds and seconds > 0 else None

    def update(self, seconds: float | None, source: str) -> tuple[float | None, str]:
        if self.max is not None and (seconds is None or seconds < self.max):
            return self.max, "held"
        if seconds is not None:
            self.max = seconds
        return seconds, source


def describe_time(seconds: float | None, source: str | None) -> str:
    """``"15 min"``, ``"~2 min (estimated)"``, ``"at least 15 min"`` or ``"unknown"``."""
    from .snr import format_duration

    if not seconds:
        return "unknown integration"
    if source == "estimated":
        return f"~{format_duration(seconds)} (estimated)"
    if source == "held":
        return f"at least {format_duration(seconds)}"
    return format_duration(seconds)
