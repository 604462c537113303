"""The OpenNGC catalog (NGC, IC, Messier, addendum) read offline from pyongc's bundled SQLite.

The whole table (about 14 000 rows) is loaded once into numpy arrays, so a
cone search is a vectorised bounding-box cut plus an exact separation test,
well under a millisecond per field.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = ["CatalogObject", "load_catalog", "cone_search", "lookup", "catalog_version",
           "TYPE_WORDS", "NOT_DSO_TYPES"]

#: OpenNGC type code -> plain words for the public.
TYPE_WORDS = {
    "*": "Star", "**": "Double star", "*Ass": "Association of stars",
    "OCl": "Open star cluster", "GCl": "Globular star cluster",
    "Cl+N": "Star cluster with nebula", "G": "Galaxy", "GPair": "Pair of galaxies",
    "GTrpl": "Triplet of galaxies", "GGroup": "Group of galaxies",
    "PN": "Planetary nebula", "HII": "Emission nebula (HII region)", "DrkN": "Dark nebula",
    "EmN": "Emission nebula", "Neb": "Nebula", "RfN": "Reflection nebula",
    "SNR": "Supernova remnant", "Nova": "Nova", "NonEx": "Nonexistent object",
    "Other": "Object of other or unknown type", "Dup": "Duplicate record",
}

#: Types never offered as a name for a detection: not deep-sky objects, or
#: records that only point to another one (``Dup``) or to nothing (``NonEx``).
NOT_DSO_TYPES = frozenset({"*", "**", "Nova", "NonEx", "Dup", "Other"})

_GALAXY_TYPES = frozenset({"G", "GPair", "GTrpl", "GGroup"})
_CLUSTER_TYPES = frozenset({"OCl", "GCl", "Cl+N", "*Ass"})
_C_KMS = 299_792.458
#: Hubble constant (km/s/Mpc) for redshift distances; documented in docs/identify.md.
H0 = 70.0
_LY_PER_PC = 3.26156


@dataclass
class CatalogObject:
    """One OpenNGC record.

    Attributes
    ----------
    name : str
        OpenNGC designation, e.g. ``"NGC3627"``.
    designation : str
        The name people use first: ``"M 66"`` for Messier objects, else
        ``"NGC 3627"`` / ``"IC 434"`` (leading zeros dropped).
    ra, dec : float
        J2000 degrees.
    type : str
        OpenNGC type code (``G``, ``OCl``, ``HII``...); ``type_words`` spells it out.
    major_arcmin, minor_arcmin : float or None
        Apparent diameters; ``pa_deg`` the position angle (north through east).
    vmag, bmag : float or None
    surface_brightness : float or None
        Mean surface brightness, B mag/arcsec² (galaxies only).
    common_names : list of str
    """

    name: str
    designation: str
    ra: float
    dec: float
    type: str
    constellation: str = ""
    major_arcmin: float | None = None
    minor_arcmin: float | None = None
    pa_deg: float | None = None
    vmag: float | None = None
    bmag: float | None = None
    surface_brightness: float | None = None
    hubble: str = ""
    messier: str = ""
    common_names: list[str] = field(default_factory=list)
    redshift: float | None = None
    parallax_mas: float | None = None

    @property
    def type_words(self) -> str:
        return TYPE_WORDS.get(self.type, self.type)

    @property
    def mag(self) -> float | None:
        """V magnitude, else B magnitude, else None."""
        return self.vmag if self.vmag is not None else self.bmag

    @property
    def names(self) -> list[str]:
        """All names: designations first (``["M 66", "NGC 3627", ...common names]``)."""
        out = [self.designation]
        ngcic = _pretty(self.name)
        if ngcic != self.designation:
            out.append(ngcic)
        return out + [n for n in self.common_names if n not in out]

    @property
    def label(self) -> str:
        """What to show: the common name first, ``"Horsehead Nebula (B 33)"``; else the designation."""
        return f"{self.common_names[0]} ({self.designation})" if self.common_names else self.designation

    @property
    def distance_ly(self) -> tuple[float, str] | None:
        """``(light years, how)`` where the catalog gives what it takes, else None.

        Galaxies: Hubble's law from the catalog redshift when ``cz >= 500 km/s``
        (closer ones are dominated by their own motion). Star clusters: the
        catalog (Gaia) parallax when it is above 0.1 mas. Nothing else.
        """
        if self.type in _GALAXY_TYPES and self.redshift is not None and self.redshift * _C_KMS >= 500:
            mpc = self.redshift * _C_KMS / H0
            return mpc * 1e6 * _LY_PER_PC, "redshift"
        if self.type in _CLUSTER_TYPES and self.parallax_mas is not None and self.parallax_mas > 0.1:
            return 1000.0 / self.parallax_mas * _LY_PER_PC, "parallax"
        return None

    def to_dict(self) -> dict:
        d = {"name": self.designation, "names": self.names, "id": self.name, "type": self.type,
             "type_words": self.type_words, "ra": round(self.ra, 5), "dec": round(self.dec, 5),
             "constellation": self.constellation, "mag": self.mag, "vmag": self.vmag,
             "bmag": self.bmag, "surface_brightness": self.surface_brightness,
             "major_arcmin": self.major_arcmin, "minor_arcmin": self.minor_arcmin,
             "pa_deg": self.pa_deg}
        if self.hubble:
            d["hubble"] = self.hubble
        dist = self.distance_ly
        if dist:
            d["distance_ly"] = float(f"{dist[0]:.3g}")
            d["distance_from"] = dist[1]
        return d


def _pretty(name: str) -> str:
    """``NGC0224`` -> ``NGC 224``, ``B033`` -> ``B 33``; ``IC0434 NED01`` keeps its suffix."""
    from .names import pretty_record

    return pretty_record(name)


class _Table:
    """Column arrays of the whole catalog plus the per-row records."""

    def __init__(self, rows, version):
        self.version = version
        self.objects = [_row_to_object(r) for r in rows]
        self.ra = np.array([o.ra for o in self.objects])
        self.dec = np.array([o.dec for o in self.objects])
        self.by_name = {}
        for i, o in enumerate(self.objects):
            for n in [o.name] + o.names:
                self.by_name.setdefault(_key(n), i)


def _key(name: str) -> str:
    name = name.upper().replace(" ", "")
    m = re.match(r"^(NGC|IC|M)0*(\d+.*)$", name)
    return f"{m.group(1)}{m.group(2)}" if m else name


def _num(v):
    return None if v is None or v == "" else float(v)


def _row_to_object(r) -> CatalogObject:
    from .names import corrected_common_names

    messier = (r["messier"] or "").lstrip("0")
    pretty = _pretty(r["name"])
    return CatalogObject(
        name=r["name"], designation=f"M {messier}" if messier else pretty,
        ra=float(np.degrees(r["ra"])), dec=float(np.degrees(r["dec"])), type=r["type"],
        constellation=r["const"] or "", major_arcmin=_num(r["majax"]), minor_arcmin=_num(r["minax"]),
        pa_deg=_num(r["pa"]), vmag=_num(r["vmag"]), bmag=_num(r["bmag"]),
        surface_brightness=_num(r["sbrightn"]), hubble=r["hubble"] or "", messier=messier,
        common_names=corrected_common_names(
            r["name"], [n.strip() for n in (r["commonnames"] or "").split(",") if n.strip()]),
        redshift=_num(r["redshift"]), parallax_mas=_num(r["parallax"]))


@lru_cache(maxsize=1)
def load_catalog() -> _Table:
    """Load OpenNGC from pyongc's bundled database (cached; offline).

    Rows without coordinates are skipped.

    Raises
    ------
    RuntimeError
        When pyongc is not installed, with the command that installs it.
    """
    try:
        import pyongc
    except ImportError:
        raise RuntimeError("the OpenNGC catalog needs pyongc: pip install pyongc") from None
    conn = sqlite3.connect(f"file:{pyongc.DBPATH}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM objects WHERE ra IS NOT NULL AND dec IS NOT NULL").fetchall()
    finally:
        conn.close()
    return _Table(rows, f"OpenNGC {getattr(pyongc, 'DBDATE', '?')} (pyongc {pyongc.__version__})")


def catalog_version() -> str:
    return load_catalog().version


def cone_search(ra: float, dec: float, radius_deg: float, *, dso_only: bool = True) -> list[CatalogObject]:
    """Catalog objects whose centre lies within ``radius_deg`` of ``(ra, dec)``.

    A declination band and a (wrap-aware) RA window cut the table before the
    exact great-circle separation is computed. With ``dso_only`` the types in
    :data:`NOT_DSO_TYPES` are left out. Nearest first.
    """
    t = load_catalog()
    band = np.abs(t.dec - dec) <= radius_deg
    cosd = np.cos(np.radians(min(89.9, abs(dec) + radius_deg)))
    dra = np.abs((t.ra - ra + 180.0) % 360.0 - 180.0)
    if radius_deg / max(cosd, 1e-6) < 180.0:
        band &= dra <= radius_deg / cosd
    idx = np.flatnonzero(band)
    sep = _separation(ra, dec, t.ra[idx], t.dec[idx])
    keep = sep <= radius_deg
    idx, sep = idx[keep], sep[keep]
    order = np.argsort(sep, kind="stable")
    out = [t.objects[i] for i in idx[order]]
    if dso_only:
        out = [o for o in out if o.type not in NOT_DSO_TYPES]
    return out


def _separation(ra0, dec0, ra, dec):
    """Great-circle separation in degrees (haversine, stable at small angles)."""
    ra0, dec0, ra, dec = map(np.radians, (ra0, dec0, ra, dec))
    h = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec0) * np.cos(dec) * np.sin((ra - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def lookup(name: str) -> CatalogObject | None:
    """Find an object by any name :func:`~dsodetect.identify.names.resolve` knows (``"M 51"``, ``"m51"``,
    ``"NGC 5194"``, ``"Whirlpool"``, ``"B 33"``, ``"Sh2-190"``...) or an OpenNGC record name.

    A group (``"Leo Triplet"``) gives its first member; a named object OpenNGC
    does not hold (``"Spaghetti Nebula"``) gives None.
    """
    from .names import resolve

    t = load_catalog()
    entry = resolve(name)
    if entry is not None:
        for rec in ([entry.id] if not entry.id.startswith("=") else []) + sorted(entry.parts):
            i = t.by_name.get(_key(rec))
            if i is not None:
                return t.objects[i]
        return None
    i = t.by_name.get(_key(name))
    return None if i is None else t.objects[i]
