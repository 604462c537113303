"""Names people use: every Messier object and the most-imaged smart-telescope targets, in their usual spellings.

The expected positions below are written from the objects' published J2000 coordinates (SIMBAD), independently
of the catalogue the resolver reads: an alias that resolved to the wrong object would land degrees away.
"""

import math

import numpy as np
import pytest

from dsodetect.identify.catalog import lookup
from dsodetect.identify.names import designation, label, matches_target, resolve, same_object


def _sep(ra1, dec1, ra2, dec2):
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    c = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


# ------------------------------------------------------------------ Messier
@pytest.mark.parametrize("m", range(1, 111))
def test_every_messier_object_in_every_spelling(m):
    entries = {resolve(s).id for s in (f"M {m}", f"M{m}", f"m{m}", f"Messier {m}", f"M-{m}", f"M 0{m}")}
    assert len(entries) == 1
    e = resolve(f"M {m}")
    obj = lookup(f"M {m}")
    assert obj is not None
    if m == 102:  # M 102 is taken as NGC 5866, the usual reading (OpenNGC leaves it a duplicate of M 101)
        assert e.id == "NGC5866" and obj.name == "NGC5866"
    else:
        assert e.designations[0] == f"M {m}"
        assert int(obj.messier) == m
        assert e.label.endswith(f"(M {m})") or e.label == f"M {m}"


MESSIER_COMMON = [
    ("Crab Nebula", 1), ("Crab", 1), ("Butterfly Cluster", 6), ("Ptolemy's Cluster", 7), ("Lagoon Nebula", 8),
    ("Lagoon", 8), ("Wild Duck Cluster", 11), ("Hercules Globular Cluster", 13), ("Great Globular Cluster in Hercules", 13),
    ("Eagle Nebula", 16), ("Eagle", 16), ("Pillars of Creation", 16), ("Omega Nebula", 17), ("Swan Nebula", 17),
    ("Trifid Nebula", 20), ("Trifid", 20), ("Dumbbell Nebula", 27), ("Andromeda Galaxy", 31), ("Andromeda", 31),
    ("Triangulum Galaxy", 33), ("Orion Nebula", 42), ("Great Orion Nebula", 42), ("Great Nebula in Orion", 42),
    ("orion nebula", 42), ("Beehive Cluster", 44), ("Praesepe", 44), ("Pleiades", 45), ("Seven Sisters", 45),
    ("Whirlpool Galaxy", 51), ("Whirlpool", 51), ("Ring Nebula", 57), ("Sunflower Galaxy", 63), ("Black Eye Galaxy", 64),
    ("Phantom Galaxy", 74), ("Little Dumbbell Nebula", 76), ("Bode's Galaxy", 81), ("Bodes Galaxy", 81),
    ("Cigar Galaxy", 82), ("Southern Pinwheel Galaxy", 83), ("Virgo A", 87), ("Owl Nebula", 97), ("Owl", 97),
    ("Pinwheel Galaxy", 101), ("Pinwheel", 101), ("Sombrero Galaxy", 104), ("Sombrero", 104), ("Surfboard Galaxy", 108),
]


@pytest.mark.parametrize("alias,m", MESSIER_COMMON)
def test_messier_common_names(alias, m):
    assert resolve(alias).id == resolve(f"M {m}").id, alias
    assert resolve(alias).label.startswith(resolve(f"M {m}").common[0])


# ------------------------------------------------------------------ beyond Messier
# (aliases, designation, RA hours, Dec degrees, tolerance degrees)
TARGETS = [
    (["Horsehead Nebula", "Horsehead", "horse head", "B33", "B 33", "Barnard 33"], "B 33", 5.683, -2.46, 0.2),
    (["Flame Nebula", "Flame", "Sh2-277"], "NGC 2024", 5.699, -1.85, 0.2),
    (["Heart Nebula", "Heart", "Sh2-190", "Sh 2-190", "sharpless 190"], "IC 1805", 2.545, 61.45, 0.5),
    (["Soul Nebula", "Soul", "Sh2-199", "Westerhout 5"], "IC 1848", 2.85, 60.43, 0.5),
    (["Fish Head Nebula"], "IC 1795", 2.413, 61.9, 0.3),
    (["Jellyfish Nebula", "Jellyfish", "Sh2-248"], "IC 443", 6.28, 22.52, 0.4),
    (["Rosette Nebula", "Rosette", "Sh2-275"], "NGC 2237", 6.534, 5.0, 0.5),
    (["North America Nebula", "North America", "C 20", "Caldwell 20"], "NGC 7000", 20.98, 44.3, 0.6),
    (["Pelican Nebula", "Pelican"], "IC 5070", 20.847, 44.35, 0.4),
    (["Eastern Veil Nebula", "Eastern Veil", "Network Nebula", "C 33"], "NGC 6992", 20.94, 31.72, 0.3),
    (["Western Veil Nebula", "Western Veil", "Witch's Broom", "C 34"], "NGC 6960", 20.761, 30.72, 0.3),
    (["Pickering's Triangle"], "NGC 6979", 20.85, 32.15, 0.4),
    (["Crescent Nebula", "Crescent", "C 27", "Sh2-105"], "NGC 6888", 20.203, 38.35, 0.3),
    (["Bubble Nebula", "Bubble", "Sh2-162", "C 11"], "NGC 7635", 23.347, 61.2, 0.3),
    (["Pacman Nebula", "Pac-Man Nebula", "Pacman", "Sh2-184", "IC 11"], "NGC 281", 0.883, 56.63, 0.3),
    (["Cocoon Nebula", "Cocoon", "C 19"], "IC 5146", 21.89, 47.27, 0.3),
    (["Iris Nebula", "Iris", "C 4"], "NGC 7023", 21.027, 68.17, 0.3),
    (["Elephant's Trunk Nebula", "Elephant's Trunk", "Elephants Trunk", "Sh2-131"], "IC 1396", 21.652, 57.5, 0.6),
    (["Whale Galaxy", "Whale", "C 32"], "NGC 4631", 12.702, 32.54, 0.2),
    (["Hockey Stick Galaxy"], "NGC 4656", 12.733, 32.17, 0.2),
    (["Needle Galaxy", "Needle", "C 38"], "NGC 4565", 12.606, 25.99, 0.2),
    (["Sculptor Galaxy", "Silver Coin Galaxy", "Sculptor", "C 65"], "NGC 253", 0.793, -25.29, 0.2),
    (["Cat's Eye Nebula", "Cat's Eye", "Cats Eye", "C 6"], "NGC 6543", 17.976, 66.63, 0.2),
    (["Helix Nebula", "Helix", "C 63"], "NGC 7293", 22.494, -20.84, 0.2),
    (["California Nebula", "California", "Sh2-220"], "NGC 1499", 4.055, 36.42, 0.6),
    (["Tadpoles Nebula", "Tadpoles", "Sh2-236"], "IC 410", 5.379, 33.42, 0.3),
    (["Wizard Nebula", "Wizard", "Sh2-142"], "NGC 7380", 22.789, 58.1, 0.3),
    (["Cave Nebula", "Cave", "Sh2-155", "Sh 2-155", "C 9"], "C 9", 22.947, 62.62, 0.4),
    (["Fireworks Galaxy", "Fireworks", "C 12", "Arp 29"], "NGC 6946", 20.581, 60.15, 0.2),
    (["Thor's Helmet", "Thors Helmet", "Sh2-298"], "NGC 2359", 7.31, -13.2, 0.3),
    (["Seagull Nebula", "Seagull", "Sh2-296"], "IC 2177", 7.088, -10.63, 0.6),
    (["Monkey Head Nebula", "Monkey Head", "Sh2-252"], "NGC 2174", 6.162, 20.5, 0.3),
    (["Christmas Tree Cluster", "Cone Nebula", "Christmas Tree", "Cone", "Sh2-273"], "NGC 2264", 6.683, 9.9, 0.4),
    (["Running Chicken Nebula", "Running Chicken", "Lambda Centauri Nebula"], "IC 2944", 11.63, -63.2, 0.6),
    (["Eskimo Nebula", "Eskimo", "Clownface Nebula", "C 39"], "NGC 2392", 7.486, 20.91, 0.2),
    (["Flaming Star Nebula", "Flaming Star", "C 31", "Sh2-229"], "IC 405", 5.27, 34.27, 0.4),
    (["Hubble's Variable Nebula", "C 46"], "NGC 2261", 6.653, 8.73, 0.2),
    (["Stephan's Quintet", "Arp 319", "HCG 92"], "HCG 92", 22.6, 33.96, 0.2),
    (["Antennae Galaxies", "Antennae", "Arp 244", "C 60"], "NGC 4038", 12.031, -18.87, 0.2),
    (["Deer Lick Galaxy", "C 30"], "NGC 7331", 22.618, 34.42, 0.2),
    (["Hamburger Galaxy"], "NGC 3628", 11.338, 13.59, 0.2),
    (["Blue Snowball Nebula", "Blue Snowball", "C 22"], "NGC 7662", 23.432, 42.54, 0.2),
    (["Saturn Nebula", "C 55"], "NGC 7009", 21.07, -11.36, 0.2),
    (["Ghost of Jupiter", "C 59"], "NGC 3242", 10.413, -18.64, 0.2),
    (["Ghost of Cassiopeia"], "IC 63", 0.98, 60.9, 0.3),
    (["Spider Nebula", "Sh2-234"], "IC 417", 5.47, 34.4, 0.4),
    (["Running Man Nebula", "Running Man", "Sh2-279"], "NGC 1977", 5.588, -4.83, 0.3),
    (["Carina Nebula", "Eta Carinae Nebula", "C 92"], "NGC 3372", 10.752, -59.87, 0.5),
    (["Tarantula Nebula", "C 103"], "NGC 2070", 5.645, -69.1, 0.3),
    (["Cat's Paw Nebula"], "NGC 6334", 17.347, -35.95, 0.6),
    (["Prawn Nebula", "Gum 56"], "IC 4628", 16.95, -40.33, 0.5),
    (["Owl Cluster", "E.T. Cluster", "C 13"], "NGC 457", 1.326, 58.29, 0.2),
    (["Coathanger", "Brocchi's Cluster", "Collinder 399", "Cr 399", "Cr399"], "Cr 399", 19.423, 20.18, 0.4),
    (["Silver Sliver Galaxy", "C 23"], "NGC 891", 2.376, 42.35, 0.2),
    (["Butterfly Nebula", "Bug Nebula", "C 69"], "NGC 6302", 17.229, -37.1, 0.2),
    (["Cocoon Galaxy", "Arp 269"], "NGC 4490", 12.51, 41.64, 0.2),
    (["Omega Centauri", "C 80"], "NGC 5139", 13.446, -47.48, 0.2),
    (["Hyades", "Mel 25", "Melotte 25", "C 41"], "C 41", 4.45, 15.9, 1.0),
    (["Coma Star Cluster", "Melotte 111"], "Mel 111", 12.42, 26.0, 1.0),
]


@pytest.mark.parametrize("aliases,desig,ra_h,dec,tol", TARGETS, ids=[t[0][0] for t in TARGETS])
def test_most_imaged_targets_resolve_to_the_right_object(aliases, desig, ra_h, dec, tol):
    ref = resolve(desig)
    assert ref is not None, desig
    obj = lookup(desig)
    assert _sep(obj.ra, obj.dec, ra_h * 15, dec) < tol, (desig, obj.ra / 15, obj.dec)
    for alias in aliases:
        e = resolve(alias)
        assert e is not None, alias
        assert e.id == ref.id, (alias, e.label, ref.label)
    assert ref.label.startswith(aliases[0]) or ref.label == desig  # the common name leads


GROUPS = [  # a group given as target is confirmed by any of its members
    (["Leo Triplet", "Arp 317"], ["M 65", "M 66", "NGC 3628", "Hamburger Galaxy"]),
    (["Markarian's Chain", "Markarians Chain"], ["M 84", "M 86", "NGC 4438", "NGC 4435"]),
    (["Veil Nebula", "Veil", "Cygnus Loop", "Sh2-103"], ["NGC 6960", "NGC 6992", "NGC 6995", "Pickering's Triangle"]),
    (["Double Cluster", "h and chi Persei", "C 14"], ["NGC 869", "NGC 884"]),
    (["Rosette"], ["NGC 2237", "NGC 2244", "NGC 2246"]),
]


@pytest.mark.parametrize("aliases,members", GROUPS, ids=[g[0][0] for g in GROUPS])
def test_groups_are_confirmed_by_their_members(aliases, members):
    for alias in aliases:
        for m in members:
            assert matches_target([label(m)], alias), (alias, m)
    assert not matches_target(["M 51"], aliases[0])


def test_names_opengc_lacks_resolve_without_a_record():
    for alias, desig in [("Spaghetti Nebula", "Sh2-240"), ("Simeis 147", "Sh2-240"), ("Medusa Nebula", "Abell 21"),
                         ("Boogeyman Nebula", "LDN 1622"), ("Barnard's Loop", "Sh2-276")]:
        e = resolve(alias)
        assert e is not None and desig in e.designations and not e.in_catalog
        assert resolve(desig).id == e.id


def test_labels_lead_with_the_common_name_and_the_flame_is_ngc_2024():
    assert resolve("Horsehead").label == "Horsehead Nebula (B 33)"
    assert resolve("Heart").label == "Heart Nebula (IC 1805)"
    assert resolve("Jellyfish").label == "Jellyfish Nebula (IC 443)"
    assert resolve("Flame Nebula").label == "Flame Nebula (NGC 2024)"
    assert lookup("IC 434").label == "IC 434"  # OpenNGC calls it the Flame: corrected
    assert "Flame" not in " ".join(lookup("IC 434").common_names)
    assert lookup("NGC 2023").label == "NGC 2023"
    assert resolve("Horsehead Nebula (B 33)").id == "B033"  # labels resolve back
    assert resolve("M 65?").id == resolve("M 65").id


@pytest.mark.parametrize("text,expected", [
    ("m42", "M 42"), ("NGC0224", "NGC 224"), ("ngc 7000", "NGC 7000"), ("IC434", "IC 434"), ("Sh2-155", "Sh2-155"),
    ("Sh 2-155", "Sh2-155"), ("SH2 155", "Sh2-155"), ("Sharpless 25", "Sh2-25"), ("sharpless 2-155", "Sh2-155"),
    ("Barnard 33", "B 33"), ("b33", "B 33"), ("LDN 1622", "LDN 1622"), ("Lynds 1622", "LDN 1622"),
    ("Abell 21", "Abell 21"), ("Arp 317", "Arp 317"), ("Melotte 111", "Mel 111"), ("Collinder 399", "Cr 399"),
    ("Caldwell 20", "C 20"), ("vdB 141", "vdB 141"), ("Orion Nebula", None), ("Heart", None),
])
def test_designation_spellings(text, expected):
    assert designation(text) == expected


def test_unknown_and_empty_names():
    assert resolve("") is None and resolve(None) is None
    assert resolve("Not An Object") is None
    assert resolve("NGC 999999") is None
    assert not matches_target(["M 42"], None)
    assert same_object("Great Orion Nebula", "m42") and not same_object("M 42", "M 43")


def test_target_confirmation_accepts_any_alias():
    from dsodetect.live.tracking import names_match_target

    box_names = [label("B 33"), "IC 434"]
    for target in ("Horsehead", "Horsehead Nebula", "B33", "B 33", "Barnard 33", "horsehead nebula"):
        assert names_match_target(box_names, target), target
    assert not names_match_target(box_names, "Flame Nebula")
    assert names_match_target(["Flame Nebula (NGC 2024)"], "NGC2024")


def test_identify_names_the_horsehead_and_the_flame_on_a_rendered_field():
    """A Seestar-like field around the Horsehead (header WCS): boxes on B 33 and NGC 2024 get their common names."""
    from astropy.wcs import WCS

    from dsodetect.detection import Detection
    from dsodetect.identify.match import identify
    from dsodetect.io.image import Image

    w, h = 1080, 1920
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [85.25, -2.2]
    wcs.wcs.crpix = [w / 2 + 0.5, h / 2 + 0.5]
    scale = 2.4 / 3600
    wcs.wcs.cdelt = [-scale, scale]

    def box_at(name, half_arcmin):
        obj = lookup(name)
        x, y = wcs.all_world2pix([[obj.ra, obj.dec]], 0)[0]
        r = half_arcmin / 60 / scale
        return Detection(x - r, y - r, x + r, y + r, score=0.8)

    horse, flame = box_at("B 33", 3.5), box_at("NGC 2024", 14)
    image = Image(np.zeros((h, w), np.float32), stem="horsehead")
    report = identify(image, [horse, flame], wcs=wcs)
    assert report.solution.ok
    assert horse.extras["names"][0] == "Horsehead Nebula (B 33)", horse.extras["names"]
    assert flame.extras["names"][0] == "Flame Nebula (NGC 2024)", flame.extras["names"]
    assert all("Flame" not in n for n in horse.extras["names"])
    assert horse.extras["description"].startswith("Horsehead Nebula (B 33)")


def test_a_short_form_never_changes_the_kind_of_object():
    # Stellarium lists these for other objects; the shortened match must not land on the famous namesake.
    for name, not_this in [("Pinwheel Cluster", "M 101"), ("Crab Globular Cluster", "M 1"),
                           ("Sunflower Nebula", "M 63"), ("Bubble Galaxy", "NGC 7635"), ("Jellyfish Cluster", "IC 443"),
                           ("Black Eye Nebula", "M 64"), ("Ghost Globular Cluster", "Sh2-136")]:
        e = resolve(name)
        assert e is None or e.id != resolve(not_this).id, name
    assert resolve("Pinwheel").id == resolve("M 101").id  # no kind said: the famous one
    assert resolve("Lobster Nebula").id == resolve("NGC 6357").id


def test_parts_confirm_their_whole():
    assert matches_target(["IC 434"], "Horsehead")  # the Horsehead sits in IC 434
    assert matches_target(["NGC 7319"], "Stephan's Quintet")
    assert matches_target(["NGC 1973"], "Running Man")
    assert not matches_target(["IC 434"], "Flame")
