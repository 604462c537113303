"""Names people use for deep-sky objects: one resolver over the catalogues and the common names.

``resolve("Horsehead")``, ``resolve("B 33")``, ``resolve("barnard33")`` and
``resolve("Horsehead Nebula (B 33)")`` all give the same :class:`Entry`, whose
:attr:`Entry.label` is ``"Horsehead Nebula (B 33)"``. Offline, from two sources:

- **OpenNGC** (pyongc's bundled database; CC BY-SA 4.0): NGC, IC, Messier and
  the addendum (Barnard, Caldwell, Melotte, Collinder, Hickson records), their
  cross-identifications (Caldwell, LBN, Sharpless, Melotte, Collinder, the
  NGC/IC duplicates) and common names;
- **the table below** (:data:`TABLE`, compiled for dsodetect, MIT like the
  package): the names OpenNGC lacks or gets wrong (the Flame is NGC 2024, not
  IC 434; the Heart is IC 1805), Sharpless/Barnard/Arp/Melotte/Collinder
  designations, groups (Leo Triplet, Markarian's Chain, the Veil) and a few
  named objects OpenNGC does not hold (Spaghetti Nebula, Medusa Nebula...).

Spellings: case, spaces, hyphens, dots, apostrophes and leading zeros do not
matter (``"M 42"``, ``"m42"``, ``"Messier 42"``; ``"Sh2-155"``, ``"Sh 2-155"``,
``"Sharpless 155"``; ``"Bodes Galaxy"``), nor do the words "the", "nebula",
"galaxy", "cluster" when the rest is unambiguous (``"Great Orion"``,
``"Horsehead"``). Documented in docs/names.md.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

__all__ = ["Entry", "resolve", "entry_for_record", "label", "same_object", "matches_target",
           "normalize", "designation", "pretty_record", "corrected_common_names", "TABLE"]

#: Names added to OpenNGC. Tab-separated: id, common names, designations, parts (lists separated by "|").
#: ``id`` is an OpenNGC record name, ``=Name`` for a group with no record of its own, or a designation
#: OpenNGC does not hold (a name-only entry). ``-Name`` in the common names removes a wrong OpenNGC name.
#: ``parts``: other records that count as this object when it is the target (for groups: the members).
TABLE = """\
# --- Messier: names OpenNGC lacks, and the order people use
NGC1952	Crab Nebula	Sh2-244|Taurus A
NGC6205	Hercules Globular Cluster|Great Globular Cluster in Hercules|Hercules Cluster
NGC6611	Eagle Nebula|Star Queen Nebula|Pillars of Creation	Sh2-49	IC4703
IC4703	Eagle Nebula|-Star Queen
NGC6618	Omega Nebula|Swan Nebula|Checkmark Nebula|-Lobster Nebula|-omega Nebula	Sh2-45
NGC6523	Lagoon Nebula	Sh2-25
NGC6514	Trifid Nebula	Sh2-30
NGC6656	Sagittarius Cluster
IC4715	Small Sagittarius Star Cloud|-Small Sgr Star Cloud
NGC6705	Wild Duck Cluster|-Amas de l'Ecu de Sobieski
NGC6853	Dumbbell Nebula|Apple Core Nebula
NGC0224	Andromeda Galaxy|Great Andromeda Nebula|Andromeda Nebula|Andromeda
NGC0598	Triangulum Galaxy|Triangulum Pinwheel
NGC1976	Orion Nebula|Great Orion Nebula|Great Nebula in Orion|Orion	Sh2-281
NGC1982	De Mairan's Nebula|Mairan's Nebula
NGC2632	Beehive Cluster|Praesepe|Beehive|-Praesepe Cluster	Mel 88|Cr 189
Mel022	Pleiades|Seven Sisters	Cr 42
NGC5194	Whirlpool Galaxy|Whirlpool	Arp 85	NGC5195
NGC5195		Arp 85
NGC6720	Ring Nebula
NGC5055	Sunflower Galaxy|Sunflower
NGC4826	Black Eye Galaxy|Evil Eye Galaxy|Sleeping Beauty Galaxy
NGC0628	Phantom Galaxy
NGC0650	Little Dumbbell Nebula|Cork Nebula|Barbell Nebula
NGC1068	Squid Galaxy|Cetus A	Arp 37
NGC3031	Bode's Galaxy
NGC3034	Cigar Galaxy|Cigar
NGC5236	Southern Pinwheel Galaxy
NGC4486	Virgo A|-Virgo Galaxy	Arp 152
NGC4594	Sombrero Galaxy|Sombrero
NGC5457	Pinwheel Galaxy|Pinwheel	Arp 26
NGC5866	Spindle Galaxy	M 102
NGC3115	Sextans Spindle Galaxy|-Spindle Galaxy
NGC3587	Owl Nebula|Owl
NGC4254	Coma Pinwheel|Virgo Cluster Pinwheel
NGC3556	Surfboard Galaxy
NGC6405	Butterfly Cluster
NGC6475	Ptolemy's Cluster
NGC3627		Arp 16
NGC4736	Croc's Eye Galaxy
NGC7078	Great Pegasus Cluster
# --- The Horsehead and the Flame (OpenNGC gives IC 434 the Flame's name)
B033	Horsehead Nebula|Horsehead	Barnard 33	IC0434
NGC2024	Flame Nebula|Flame	Sh2-277|Orion B
IC0434	-Flame Nebula|-Orion B
# --- Most-imaged smart-telescope targets beyond Messier
IC1805	Heart Nebula|Heart	Sh2-190|Mel 15|Cr 26
IC1795	Fish Head Nebula|Fishhead Nebula
IC1848	Soul Nebula|Soul	Sh2-199|Westerhout 5|W5
IC0443	Jellyfish Nebula|Jellyfish	Sh2-248|Gem A
NGC2237	Rosette Nebula|Rosette|-Rosette A	Sh2-275	NGC2238|NGC2239|NGC2246
NGC2238	-Rosette Nebula
NGC2239	Rosette Cluster
NGC7000	North America Nebula|North America	Sh2-117
IC5070	Pelican Nebula|Pelican		IC5067
NGC6960	Western Veil Nebula|Western Veil|Witch's Broom Nebula|Witch's Broom|-Veil Nebula
NGC6992	Eastern Veil Nebula|Eastern Veil|Network Nebula		NGC6995
NGC6995	Eastern Veil Nebula|Eastern Veil|Network Nebula
NGC6979	Pickering's Triangle|Pickering's Triangular Wisp|Pickering's Wisp
=Veil Nebula	Veil Nebula|Veil|Cygnus Loop	Sh2-103	NGC6960|NGC6992|NGC6995|NGC6979
NGC6888	Crescent Nebula|Crescent	Sh2-105
NGC7635	Bubble Nebula|Bubble	Sh2-162
NGC0281	Pacman Nebula|Pac-Man Nebula|Pacman	Sh2-184
IC5146	Cocoon Nebula|Cocoon	Sh2-125
NGC7023	Iris Nebula|Iris
IC1396	Elephant's Trunk Nebula|Elephant's Trunk	Sh2-131
=Leo Triplet	Leo Triplet|Leo Trio|Hamburger Group	Arp 317	NGC3623|NGC3627|NGC3628
NGC3628	Hamburger Galaxy|Sarah's Galaxy
=Markarian's Chain	Markarian's Chain		NGC4374|NGC4406|NGC4435|NGC4438|NGC4458|NGC4461|NGC4473|NGC4477
NGC4435	The Eyes|-Eyes	Arp 120	NGC4438
NGC4438	The Eyes|-Eyes	Arp 120	NGC4435
NGC4631	Whale Galaxy|Whale
NGC4656	Hockey Stick Galaxy|Crowbar Galaxy|Hockey Stick
NGC4565	Needle Galaxy|Needle
NGC0253	Sculptor Galaxy|Silver Coin Galaxy|Silver Dollar Galaxy|Sculptor|Silver Coin|-Sculptor Filament
NGC6543	Cat's Eye Nebula|Cat's Eye
NGC7293	Helix Nebula|Helix|Eye of God
=Double Cluster	Double Cluster|h and chi Persei|h & chi Persei	C 14	C014|NGC0869|NGC0884
NGC1499	California Nebula|California	Sh2-220
IC0410	Tadpoles Nebula|Tadpoles|Tadpole Nebula	Sh2-236
NGC7380	Wizard Nebula|Wizard	Sh2-142
C009	Cave Nebula|Cave
NGC6946	Fireworks Galaxy|Fireworks	Arp 29
NGC2359	Thor's Helmet|Thor's Helmet Nebula|Duck Nebula	Sh2-298
IC2177	Seagull Nebula|Seagull	Sh2-296
NGC2174	Monkey Head Nebula|Monkey Head	Sh2-252	NGC2175
NGC2264	Christmas Tree Cluster|Cone Nebula|Christmas Tree|Cone|Fox Fur Nebula	Sh2-273
IC2944	Running Chicken Nebula|Running Chicken|Lambda Centauri Nebula|-lam Cen Nebula		IC2948
NGC2392	Eskimo Nebula|Eskimo|Clown Face Nebula|Clownface Nebula
NGC2261	Hubble's Variable Nebula|Hubble's Nebula
IC0405	Flaming Star Nebula|Flaming Star	Sh2-229
IC0417	Spider Nebula	Sh2-234
NGC1931	Fly Nebula	Sh2-237
IC0063	Ghost of Cassiopeia	Sh2-185	IC0059
NGC1909	Witch Head Nebula|Witch Head
NGC1977	Running Man Nebula|Running Man|-the Running Man Nebula	Sh2-279	NGC1973|NGC1975
NGC3372	Carina Nebula|Eta Carinae Nebula|-eta Car Nebula
NGC2070	Tarantula Nebula|Tarantula|-30 Dor Cluster
NGC6334	Cat's Paw Nebula|Cat's Paw	Gum 64
NGC6357	War and Peace Nebula|Lobster Nebula|-the War and Peace Nebula
IC4628	Prawn Nebula|Prawn	Gum 56
NGC7331	Deer Lick Galaxy
HCG092	Stephan's Quintet	Arp 319	NGC7317|NGC7318|NGC7318A|NGC7318B|NGC7319|NGC7320
NGC4038	Antennae Galaxies|Antennae	Arp 244	NGC4039
NGC4039	Antennae Galaxies	Arp 244	NGC4038
NGC4490	Cocoon Galaxy	Arp 269
NGC4567	Butterfly Galaxies|Siamese Twins		NGC4568
NGC4568	Butterfly Galaxies|Siamese Twins		NGC4567
NGC0891	Silver Sliver Galaxy|Outer Limits Galaxy
NGC0457	Owl Cluster|E.T. Cluster|ET Cluster|Dragonfly Cluster
NGC7009	Saturn Nebula
NGC3242	Ghost of Jupiter|Jupiter's Ghost Nebula
NGC7662	Blue Snowball Nebula|Blue Snowball|Copeland's Blue Snowball
NGC6826	Blinking Planetary|Blinking Planetary Nebula
NGC2419	Intergalactic Wanderer
NGC0104	47 Tucanae|-47 Tuc Cluster
NGC7789	Caroline's Rose Cluster|Caroline's Rose
NGC5907	Splinter Galaxy|Knife Edge Galaxy
NGC4449	Box Galaxy
NGC6302	Butterfly Nebula|Bug Nebula
Cl399	Coathanger|Brocchi's Cluster|Al Sufi's Cluster|Coathanger Asterism	Cr 399
# --- Named objects OpenNGC does not hold (names only: a target given by them is confirmed by the frame centre)
Sh2-240	Spaghetti Nebula|Simeis 147	Simeis 147
Sh2-274	Medusa Nebula|Medusa	Abell 21
Sh2-276	Barnard's Loop
Sh2-264	Angelfish Nebula|Lambda Orionis Ring
Sh2-101	Tulip Nebula|Tulip
Sh2-132	Lion Nebula
Sh2-308	Dolphin Nebula|Dolphin Head Nebula
Sh2-157	Lobster Claw Nebula
Sh2-129	Flying Bat Nebula|Flying Bat
Ou 4	Squid Nebula	Ou4
Sh2-136	Ghost Nebula	vdB 141
LDN 1622	Boogeyman Nebula
LDN 1235	Shark Nebula
Mel 20	Alpha Persei Cluster	Cr 39
Abell 39
"""


@dataclass(frozen=True)
class Entry:
    """One object (or group) and every name it goes by.

    Attributes
    ----------
    id : str
        OpenNGC record name (``"NGC2024"``, ``"B033"``), ``"=Leo Triplet"`` for a
        group, or a designation for an object OpenNGC does not hold (``"Sh2-240"``).
    common : tuple of str
        Common names, the one to show first.
    designations : tuple of str
        Catalogue designations, the one to show first (Messier first).
    parts : frozenset of str
        OpenNGC records that count as this object when it is a target (its
        own record included).
    """

    id: str
    common: tuple = ()
    designations: tuple = ()
    parts: frozenset = field(default_factory=frozenset)

    @property
    def in_catalog(self) -> bool:
        """True when OpenNGC holds a record for it (so it can be named in an image)."""
        return bool(self.parts)

    @property
    def label(self) -> str:
        """``"Horsehead Nebula (B 33)"``; ``"NGC 2023"`` without a common name."""
        if self.common and self.designations:
            return f"{self.common[0]} ({self.designations[0]})"
        return (self.common or self.designations or (self.id.lstrip("="),))[0]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(self.designations + self.common))


# ------------------------------------------------------------------ spelling
_GENERIC = {"the", "nebula", "nebulae", "galaxy", "galaxies", "cluster", "star", "globular", "open",
            "planetary", "complex", "region", "of", "in"}

# Catalogue prefixes people type -> the canonical prefix; more specific spellings first.
_PREFIXES = [
    (r"MESSIER|M", "M"), (r"NGC", "NGC"), (r"IC", "IC"),
    (r"SH\s*2|SHARPLESS(?:\s*2(?=[\s\-_.]))?|SHARPLESS", "Sh2"),
    (r"CALDWELL", "C"), (r"COLLINDER|COL|CR|CL", "Cr"), (r"C", "C"),
    (r"BARNARD|B", "B"), (r"LBN", "LBN"), (r"LDN|LYNDS", "LDN"),
    (r"ABELL|PN\s*A\s*66|A\s*66|PNA66", "Abell"), (r"ARP", "Arp"), (r"MELOTTE|MEL", "Mel"),
    (r"VAN\s*DEN\s*BERGH|VDB", "vdB"), (r"HICKSON|HCG", "HCG"), (r"GUM", "Gum"), (r"OU", "Ou"),
    (r"SIMEIS|SIM", "Simeis"), (r"WESTERHOUT|W", "W"), (r"UGC", "UGC"), (r"PGC", "PGC"),
]
_DESIG = [(re.compile(rf"^\s*(?:{p})[\s\-_.]*0*(\d+)\s*([A-Z]?)\s*$", re.IGNORECASE), c) for p, c in _PREFIXES]


def _ascii(s: str) -> str:
    return unicodedata.normalize("NFKD", str(s)).encode("ascii", "ignore").decode()


def normalize(name: str) -> str:
    """Spelling-free key: lower case, ``&`` -> and, no spaces, hyphens, dots or apostrophes."""
    s = _ascii(name).lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "", s)


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", _ascii(name).lower().replace("'s", "s").replace("&", " and "))


def _loose(name: str) -> str:
    return "".join(w for w in _words(name) if w not in _GENERIC)


#: What kind of object a name says it is: a short form must not change it ("Pinwheel Cluster" is not the
#: Pinwheel Galaxy, "Crab Globular Cluster" not the Crab Nebula).
_KIND = {"galaxy": "galaxy", "galaxies": "galaxy", "nebula": "nebula", "nebulae": "nebula", "cluster": "cluster",
         "globular": "cluster"}


def _kinds(name: str) -> frozenset:
    return frozenset(_KIND[w] for w in _words(name) if w in _KIND)


def designation(name: str) -> str | None:
    """Canonical catalogue designation of a spelling, or None.

    ``"m42"`` -> ``"M 42"``, ``"NGC0224"`` -> ``"NGC 224"``, ``"Sh 2-155"`` ->
    ``"Sh2-155"``, ``"Barnard 33"`` -> ``"B 33"``, ``"Collinder 399"`` -> ``"Cr 399"``.
    """
    s = _ascii(name).strip()
    for rx, canon in _DESIG:
        m = rx.match(s)
        if m:
            num = m.group(1) + m.group(2).upper()
            return f"Sh2-{num}" if canon == "Sh2" else f"{canon} {num}"
    return None


def pretty_record(name: str) -> str:
    """OpenNGC record name -> designation: ``NGC0224`` -> ``NGC 224``, ``B033`` -> ``B 33``,
    ``Mel022`` -> ``Mel 22``, ``Cl399`` -> ``Cr 399``; suffixes kept (``IC0434 NED01``)."""
    m = re.match(r"^(NGC|IC|M|B|C|Mel|Cl|HCG|UGC|PGC)0*(\d+)(.*)$", name)
    if not m:
        return name
    prefix = {"Cl": "Cr"}.get(m.group(1), m.group(1))
    return f"{prefix} {m.group(2)}{m.group(3)}".strip()


# ------------------------------------------------------------------ the table
@dataclass
class _Row:
    id: str
    common: list
    remove: set
    designations: list
    parts: list


@lru_cache(maxsize=1)
def _table() -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for line in TABLE.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = (line.split("\t") + ["", "", ""])[:4]
        split = lambda c: [x.strip() for x in c.split("|") if x.strip()]
        common = split(cols[1])
        rows[cols[0].strip()] = _Row(cols[0].strip(), [c for c in common if not c.startswith("-")],
                                     {c[1:].lower() for c in common if c.startswith("-")},
                                     split(cols[2]), split(cols[3]))
    return rows


def corrected_common_names(record: str, openngc_names: Iterable[str]) -> list[str]:
    """Common names of an OpenNGC record: the table's first, then OpenNGC's that the table does not remove."""
    row = _table().get(record)
    names = list(openngc_names)
    if row is None:
        return names
    out = row.common + [n for n in names if n.lower() not in row.remove]
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------ the index
class _Index:
    def __init__(self):
        self.entries: dict[str, Entry] = {}
        self.exact: dict[str, str] = {}     # "D:NGC 2024" / "N:flamenebula" -> entry id
        self.loose: dict[str, dict] = {}    # "flame" -> {entry id: kinds its names state}

    def add_key(self, key: str, eid: str) -> None:
        self.exact.setdefault(key, eid)

    def add_name(self, name: str, eid: str) -> None:
        d = designation(name)
        if d:
            self.add_key("D:" + d, eid)
        key = "N:" + normalize(name)
        self.add_key(key, eid)
        lo = _loose(name)
        if lo:  # the entry that won the full name also gets its short form
            kinds = self.loose.setdefault(lo, {})
            eid = self.exact[key]
            kinds[eid] = kinds.get(eid, frozenset()) | _kinds(name)


def _records():
    import pyongc

    conn = sqlite3.connect(f"file:{pyongc.DBPATH}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT name, type, messier, ngc, ic, identifiers, commonnames FROM objects").fetchall()
    finally:
        conn.close()


_XID = re.compile(r"^(C|LBN|SH 2-|Mel|Cl)\s*0*(\d+)$")


@lru_cache(maxsize=1)
def _index() -> _Index:
    table = _table()
    recs = _records()
    by_name = {r["name"]: r for r in recs}
    by_messier = {}
    for r in recs:
        if (r["messier"] or "").isdigit() and r["type"] != "Dup":
            by_messier.setdefault(int(r["messier"]), r["name"])

    def own_designations(r) -> list[str]:
        out = []
        if (r["messier"] or "").isdigit() and r["type"] != "Dup":
            out.append(f"M {int(r['messier'])}")
        out.append(pretty_record(r["name"]))
        return out

    def cross_ids(r) -> list[str]:
        out = []
        for col in ("ngc", "ic"):
            for v in (r[col] or "").split(","):
                if v.strip().isdigit():
                    out.append(f"{col.upper()} {int(v)}")
        for x in (r["identifiers"] or "").split(","):
            m = _XID.match(x.strip())
            if m:
                out.append(designation(f"{m.group(1)} {m.group(2)}") or x.strip())
        return [d for d in out if d]

    idx = _Index()
    # Entries: every OpenNGC record that is not a duplicate pointer, then the table's own entries.
    for r in recs:
        if r["type"] == "Dup":
            continue
        row = table.get(r["name"])
        desig = own_designations(r)
        if row:
            desig += [designation(d) or d for d in row.designations]
        desig += cross_ids(r)
        common = corrected_common_names(r["name"], [n.strip() for n in (r["commonnames"] or "").split(",")
                                                    if n.strip()])
        parts = {r["name"]} | {p for p in (row.parts if row else []) if p in by_name}
        idx.entries[r["name"]] = Entry(r["name"], tuple(common), tuple(dict.fromkeys(desig)), frozenset(parts))
    for eid, row in table.items():
        if eid in idx.entries:
            continue
        if eid.startswith("="):
            desig = [designation(d) or d for d in row.designations]
        else:
            desig = [designation(eid) or eid] + [designation(d) or d for d in row.designations]
        idx.entries[eid] = Entry(eid, tuple(row.common), tuple(dict.fromkeys(desig)),
                                 frozenset(p for p in row.parts if p in by_name))
    # Keys, most authoritative first (the first claim of a key wins):
    # 1. the table's names and designations, 2. OpenNGC's own designations,
    # 3. OpenNGC's cross-identifications and duplicate records, 4. OpenNGC's common names.
    for eid, row in table.items():
        e = idx.entries[eid]
        for n in row.common + row.designations + ([] if eid.startswith("=") else [eid]):
            idx.add_name(n, eid)
        if eid in by_name:
            for d in e.designations:
                idx.add_key("D:" + d, eid)
    for r in recs:
        if r["type"] != "Dup":
            for d in own_designations(r):
                idx.add_key("D:" + d, r["name"])
            idx.add_key("N:" + normalize(r["name"]), r["name"])
    for r in recs:
        if r["type"] != "Dup":
            for d in cross_ids(r):
                idx.add_key("D:" + d, r["name"])
        else:  # a duplicate record points to the object it duplicates
            target = None
            for col in ("ngc", "ic"):
                m = re.match(r"^0*(\d+)(\w*)", (r[col] or "").split(",")[0].strip())
                if m and target is None:
                    target = f"{col.upper()}{int(m.group(1)):04d}{m.group(2)}"
            if target is None and (r["messier"] or "").isdigit():
                target = by_messier.get(int(r["messier"]))
            if target in idx.entries:
                idx.add_key("D:" + pretty_record(r["name"]), target)
                idx.add_key("N:" + normalize(r["name"]), target)
    for eid, e in idx.entries.items():
        for n in e.common:
            idx.add_name(n, eid)
    return idx


def _lookup(text: str) -> Entry | None:
    idx = _index()
    d = designation(text)
    if d and "D:" + d in idx.exact:
        return idx.entries[idx.exact["D:" + d]]
    eid = idx.exact.get("N:" + normalize(text))
    if eid is None and _loose(text):
        # A short form ("Horsehead", "Great Orion") matches when it is unambiguous and does not say
        # another kind of object than the names it shortens.
        said = _kinds(text)
        hits = [e for e, kinds in (idx.loose.get(_loose(text)) or {}).items() if said <= kinds]
        if len(hits) == 1:
            eid = hits[0]
    return None if eid is None else idx.entries[eid]


def resolve(name: str | None) -> Entry | None:
    """The object a name refers to, or None.

    Accepts catalogue designations in their usual spellings, common names,
    OpenNGC record names (``"UGC05470"``) and labels as this module writes them
    (``"Horsehead Nebula (B 33)"``, ``"M 66?"``).
    """
    if not name or not str(name).strip():
        return None
    text = str(name).strip().rstrip("?").strip()
    hit = _lookup(text)
    if hit is not None:
        return hit
    m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*$", text)  # "Common (M 42, NGC 1976)"
    if m:
        for part in [m.group(1)] + m.group(2).split(","):
            if part.strip():
                hit = _lookup(part.strip())
                if hit is not None:
                    return hit
    return None


def entry_for_record(record: str) -> Entry | None:
    """The entry of an OpenNGC record name (``"NGC2024"``), following duplicate records."""
    idx = _index()
    if record in idx.entries:
        return idx.entries[record]
    eid = idx.exact.get("N:" + normalize(record))
    return None if eid is None else idx.entries[eid]


def label(name: str) -> str:
    """The label to show for a name: ``"horsehead"`` -> ``"Horsehead Nebula (B 33)"``; unknown names unchanged."""
    e = resolve(name)
    return e.label if e is not None else name


def _ids(e: Entry) -> frozenset:
    return e.parts or frozenset({e.id})


def same_object(a: str, b: str) -> bool:
    """True when two names refer to the same object (or one is part of the other: the Veil and NGC 6992)."""
    ea, eb = resolve(a), resolve(b)
    if ea is None or eb is None:
        return bool(a and b and normalize(a) == normalize(b))
    return ea.id == eb.id or bool(_ids(ea) & _ids(eb))


def matches_target(names: Iterable[str], target: str | None) -> bool:
    """Does any of ``names`` (a detection's identified names) refer to ``target`` (any alias)?"""
    if not target:
        return False
    return any(same_object(n, target) for n in names if n)
