"""Real targets from the OpenNGC catalogue (pyongc): pointing and the objects in the field."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["CatalogObject", "lookup_target", "field_objects", "ONGC_KINDS"]

#: OpenNGC type -> simulator kind (types not listed, e.g. stars, are skipped).
ONGC_KINDS = {
    "Galaxy": "galaxy", "Galaxy Pair": "galaxy", "Galaxy Triplet": "galaxy",
    "Group of galaxies": "galaxy",
    "Globular Cluster": "globular_cluster",
    "Open Cluster": "open_cluster", "Star cluster + Nebula": "emission_nebula",
    "Cluster + Nebula": "emission_nebula",
    "HII Ionized region": "emission_nebula", "Emission Nebula": "emission_nebula",
    "Nebula": "emission_nebula", "Supernova remnant": "emission_nebula",
    "Reflection Nebula": "reflection_nebula",
    "Planetary Nebula": "planetary_nebula",
}


@dataclass
class CatalogObject:
    """What the simulator needs from one OpenNGC entry."""

    name: str
    kind: str
    ra: float               # deg
    dec: float              # deg
    major_arcmin: float | None
    minor_arcmin: float | None
    pa_deg: float | None    # east of north
    mag: float | None       # V, else B - 0.8
    surface_brightness: float | None  # B mag/arcsec² (galaxies)
    hubble: str | None = None          # morphological type (galaxies), e.g. 'Sbc'


def _from_dso(dso) -> CatalogObject | None:
    kind = ONGC_KINDS.get(dso.type)
    if kind is None:
        return None
    ra, dec = np.degrees(dso.rad_coords)
    major, minor, pa = dso.dimensions
    b, v = dso.magnitudes[0], dso.magnitudes[1]
    mag = v if v is not None else (b - 0.8 if b is not None else None)
    ident = dso.identifiers[0] if dso.identifiers and dso.identifiers[0] else None
    name = re.sub(r"^M0*", "M", ident) if ident else dso.name  # M051 -> M51
    return CatalogObject(name, kind, float(ra), float(dec), major, minor, pa, mag, dso.surface_brightness,
                         getattr(dso, "hubble", None) or None)


def lookup_target(name: str) -> CatalogObject:
    """Resolve ``M51``, ``NGC 7000``, ``IC434``... through OpenNGC.

    Raises
    ------
    ValueError
        With a one-line reason when the name is unknown or not a renderable type.
    """
    from pyongc import ongc

    try:
        dso = ongc.Dso(name.replace(" ", ""))
    except Exception as exc:  # pyongc raises its own ObjectNotFound / UnknownIdentifier
        raise ValueError(f"unknown target {name!r} ({exc})") from None
    obj = _from_dso(dso)
    if obj is None:
        raise ValueError(f"target {name!r} is a {dso.type!r}, not a deep-sky object the simulator renders")
    return obj


def field_objects(target: CatalogObject, radius_arcmin: float, limit: int = 25) -> list[CatalogObject]:
    """The target and the catalogued objects within ``radius_arcmin`` of it."""
    from pyongc import ongc

    out = [target]
    try:
        dso = ongc.Dso(target.name.replace(" ", ""))
        neighbours = ongc.getNeighbors(dso, radius_arcmin)
    except Exception:
        neighbours = []
    seen = {target.name}
    for nb, _sep in neighbours[:limit]:
        obj = _from_dso(nb)
        if obj is not None and obj.name not in seen:
            seen.add(obj.name)
            out.append(obj)
    return out
