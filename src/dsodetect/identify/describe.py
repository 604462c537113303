"""Plain-language lines about catalog objects, for the public.

Every number comes from the catalog record; a distance is given only where
the record holds what it takes (see :attr:`CatalogObject.distance_ly`).
"""

from __future__ import annotations

from functools import lru_cache

from .catalog import CatalogObject

__all__ = ["describe", "describe_uncatalogued", "describe_missing", "constellation_name", "format_radec"]


@lru_cache(maxsize=1)
def _constellations() -> dict:
    from importlib.resources import files

    text = (files("astropy.coordinates") / "data" / "constellation_names.dat").read_text()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            abbr, _, name = line.partition(" ")
            out[abbr.strip().lower()] = name.strip()
    return out


def constellation_name(abbr: str) -> str:
    """``"CVn"`` -> ``"Canes Venatici"`` (IAU names from astropy); unknown abbreviations unchanged."""
    try:
        return _constellations().get(abbr.lower(), abbr)
    except OSError:
        return abbr


def format_radec(ra: float, dec: float) -> str:
    """``"11h20m15s +12°59'"``."""
    from astropy.coordinates import Angle
    import astropy.units as u

    r = Angle(ra % 360.0, u.deg).hms
    sign = "-" if dec < 0 else "+"
    d = abs(dec)
    return f"{int(r.h):02d}h{int(r.m):02d}m{int(r.s):02d}s {sign}{int(d):02d}°{int(round((d % 1) * 60)) % 60:02d}'"


def _size(obj: CatalogObject) -> str:
    a, b = obj.major_arcmin, obj.minor_arcmin
    if a is None:
        return ""
    unit = "'"
    if b is not None and abs(b - a) > 0.05:
        return f"{a:.3g}{unit} x {b:.3g}{unit}"
    return f"{a:.3g}{unit} across"


def _distance(obj: CatalogObject) -> str:
    d = obj.distance_ly
    if d is None:
        return ""
    ly, how = d
    if ly >= 1e6:
        text = f"about {ly / 1e6:.3g} million light years away"
    else:
        text = f"about {float(f'{ly:.2g}'):,.0f} light years away"
    return text + (" (from its redshift)" if how == "redshift" else " (from its Gaia parallax)")


def describe(obj: CatalogObject) -> str:
    """``"Whirlpool Galaxy (M 51, NGC 5194): Galaxy (Sc) in Canes Venatici, ..."``; ``"M 66 (NGC 3627): Galaxy (Sb) in Leo, magnitude 8.9, 10.3' x 4.61'; about 32.7 million light years away (from its redshift)."``"""
    designations = [n for n in obj.names if n not in obj.common_names]
    if obj.common_names:
        head = f"{obj.common_names[0]} ({', '.join(designations)})"
    else:
        head = designations[0] + (f" ({', '.join(designations[1:])})" if len(designations) > 1 else "")
    what = obj.type_words
    if obj.hubble:
        what += f" ({obj.hubble})"
    if obj.constellation:
        what += f" in {constellation_name(obj.constellation)}"
    facts = [what]
    if obj.mag is not None:
        facts.append(f"magnitude {obj.mag:.1f}")
    size = _size(obj)
    if size:
        facts.append(size)
    text = f"{head}: " + ", ".join(facts)
    dist = _distance(obj)
    return text + (f"; {dist}." if dist else ".")


def describe_uncatalogued(ra: float, dec: float) -> str:
    """Line for a detection with no OpenNGC counterpart."""
    return (f"Object at {format_radec(ra, dec)}: in no NGC/IC/Messier entry - a fainter galaxy or nebula "
            "from another catalog, a comet or asteroid, a supernova, or an artifact.")


def describe_missing(obj: CatalogObject) -> str:
    """Line for a catalog object bright enough to show but not detected."""
    mag = f" of magnitude {obj.mag:.1f}" if obj.mag is not None else ""
    return (f"{obj.label}: {obj.type_words.lower()}{mag} should show in this field "
            "but was not detected (too faint in this exposure, hidden, or missed).")
