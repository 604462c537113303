"""OpenNGC catalog access, header hints and plain-language lines (no astrometry.net needed)."""

import math

import pytest
from astropy.io import fits

from dsodetect.identify import Hint, cone_search, describe, hint_from_header, lookup
from dsodetect.identify.describe import describe_missing, format_radec
from dsodetect.io.headers import integration_time as exposure_seconds
from dsodetect.telescopes import PRESETS
from dsodetect.identify.match import expected_rule, limits_for_exposure


@pytest.mark.parametrize("name", ["M 51", "M51", "m51", "NGC 5194", "NGC5194", "Whirlpool Galaxy"])
def test_lookup_accepts_every_spelling(name):
    obj = lookup(name)
    assert obj is not None
    assert obj.designation == "M 51"
    assert obj.names[:2] == ["M 51", "NGC 5194"]
    assert obj.type == "G"
    assert 13.2 < obj.ra / 15 < 13.6 and 47.0 < obj.dec < 47.4


def test_lookup_unknown_name_is_none():
    assert lookup("NGC 999999") is None


def test_cone_search_finds_leo_triplet_nearest_first():
    m66 = lookup("M 66")
    found = cone_search(m66.ra, m66.dec, 0.6)
    names = [o.designation for o in found]
    assert names[0] == "M 66"
    assert {"M 65", "NGC 3628"} <= set(names)
    assert all(o.type not in ("*", "Dup", "NonEx") for o in found)
    # Nothing outside the radius.
    for o in found:
        d = math.degrees(math.acos(min(1.0, math.sin(math.radians(o.dec)) * math.sin(math.radians(m66.dec))
                                       + math.cos(math.radians(o.dec)) * math.cos(math.radians(m66.dec))
                                       * math.cos(math.radians(o.ra - m66.ra)))))
        assert d <= 0.6 + 1e-6


def test_cone_search_wraps_around_ra_zero():
    # NGC 7814 sits at RA 0.8 deg; a cone centred on the other side of RA 0 must reach it.
    obj = lookup("NGC 7814")
    assert obj.ra < 1.0
    found = cone_search((obj.ra - 1.0) % 360, obj.dec, 1.05)
    assert "NGC 7814" in [o.designation for o in found]


def test_distance_only_where_the_catalog_gives_it():
    m66 = lookup("M 66")
    ly, how = m66.distance_ly
    assert how == "redshift" and 2.5e7 < ly < 4.5e7
    assert lookup("M 42").distance_ly is None  # a nebula with no usable record
    assert "light years" not in describe(lookup("M 42"))
    assert "million light years" in describe(m66)
    cluster = lookup("NGC 869")
    assert cluster.distance_ly[1] == "parallax"


def test_describe_uses_catalog_facts():
    line = describe(lookup("M 51"))
    assert line.startswith("Whirlpool Galaxy (M 51, NGC 5194): Galaxy")  # the common name leads
    assert "Canes Venatici" in line and "magnitude 8.4" in line
    assert "should show" in describe_missing(lookup("M 65"))
    assert format_radec(202.47, 47.19).startswith("13h29m")


def test_hint_from_seestar_like_header():
    hdr = fits.Header({"RA": 170.06, "DEC": 12.99, "FOCALLEN": 250.0, "XPIXSZ": 2.9})
    hint = hint_from_header(hdr)
    assert hint.has_position and hint.has_scale
    scale = PRESETS["seestar"].scale
    assert hint.scale_low < scale < hint.scale_high
    assert hint.ra == pytest.approx(170.06)


def test_hint_from_sexagesimal_and_nonsense():
    hint = hint_from_header(fits.Header({"OBJCTRA": "11 20 15", "OBJCTDEC": "+12 59 30", "PIXSCALE": 1.24}))
    assert hint.ra == pytest.approx(170.0625, abs=1e-3) and hint.dec == pytest.approx(12.9917, abs=1e-3)
    assert hint.scale_low < 1.24 < hint.scale_high
    bad = hint_from_header(fits.Header({"RA": 10.0, "DEC": 123.0, "FOCALLEN": 0.0, "XPIXSZ": 2.9}))
    assert bad.empty
    assert hint_from_header(None).empty and Hint().empty


def test_hint_from_frame_size():
    from dsodetect.identify.hints import hint_from_shape

    stellina = hint_from_shape(3096, 2080)
    assert stellina.scale_low < PRESETS["stellina"].scale < stellina.scale_high
    both = hint_from_shape(1080, 1920)  # Vespera and Seestar share the sensor size
    assert both.scale_low < PRESETS["seestar"].scale < PRESETS["vespera"].scale < both.scale_high
    assert hint_from_shape(640, 640).empty


def test_exposure_from_header():
    assert exposure_seconds(fits.Header({"EXPTIME": 10.0, "STACKCNT": 90})) == 900.0
    assert exposure_seconds(fits.Header({"TOTALEXP": 1800.0, "EXPTIME": 10.0})) == 1800.0
    assert exposure_seconds(fits.Header()) is None


def test_expected_rule_depends_on_brightness_size_and_time():
    m66, scale = lookup("M 66"), 2.4
    ml, sl = limits_for_exposure(600)
    assert expected_rule(m66, scale, ml, sl)
    faint = lookup("IC 2729")  # a mag-15 galaxy near M 66
    assert faint.mag > 14 and not expected_rule(faint, scale, ml, sl)
    # Longer integrations go deeper, never shallower.
    ml2, sl2 = limits_for_exposure(6000)
    assert ml2 > ml and sl2 > sl
    # A galaxy a few pixels across is not expected at a coarse scale.
    assert not expected_rule(m66, 200.0, ml, sl)
