"""Name detections with OpenNGC objects, list expected objects that were not detected.

Matching (documented in docs/identify.md): each catalog object becomes the
pixel box around its catalog ellipse (at least :data:`~.geometry.MIN_RADIUS_PX`).
For a detection box ``D`` and an object box ``O`` that intersect::

    cover = |D ∩ O| / min(|D|, |O|)          # the smaller one lies inside the other
    iou   = |D ∩ O| / |D ∪ O|                # sizes agree
    prox  = exp(-d² / 2s²)                   # centres agree; s = max(half-diagonal of D, semi-major of O)
    score = 0.5 cover + 0.25 iou + 0.25 prox

A pair scoring at least ``min_score`` (0.5) is a match; a detection with no
match is *uncatalogued*. "Expected" objects follow :func:`expected_rule`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..detection import Detection
from ..io.headers import integration_time
from .catalog import CatalogObject, catalog_version, cone_search
from .describe import describe, describe_missing, describe_uncatalogued
from .geometry import field_center_radius, object_box, pixel_scale
from .solver import Solution, solve

__all__ = ["ObjectMatch", "IdentifyReport", "identify", "match_score", "expected_rule", "limits_for_exposure",
           "objects_in_field", "DEFAULT_EXPOSURE_S"]

#: Integration time assumed when the header does not tell (a typical smart-telescope session).
DEFAULT_EXPOSURE_S = 600.0


@dataclass
class ObjectMatch:
    """A catalog object matched to a detection."""

    obj: CatalogObject
    score: float
    box: tuple

    def to_dict(self) -> dict:
        d = self.obj.to_dict()
        d["match_score"] = round(self.score, 3)
        d["description"] = describe(self.obj)
        return d


@dataclass
class IdentifyReport:
    """What :func:`identify` found for one image.

    Attributes
    ----------
    solution : Solution
    detections : list of Detection
        The same objects that were passed in, with names in ``extras``.
    matches : list of list of ObjectMatch
        Per detection, best first (empty: uncatalogued).
    in_field : list of (CatalogObject, box)
        Catalog objects whose centre is in the frame.
    expected : list of CatalogObject
        In-field objects bright and large enough to show (:func:`expected_rule`).
    missing : list of CatalogObject
        Expected objects matched by no detection.
    """

    solution: Solution
    width: int
    height: int
    detections: list = field(default_factory=list)
    matches: list = field(default_factory=list)
    in_field: list = field(default_factory=list)
    expected: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    exposure_s: float = DEFAULT_EXPOSURE_S
    mag_limit: float = 0.0
    sb_limit: float = 0.0
    catalog: str = ""

    @property
    def uncatalogued(self) -> list[int]:
        """Indices of detections with no catalog counterpart."""
        return [i for i, m in enumerate(self.matches) if not m]

    @property
    def names(self) -> list[str]:
        """Names of the matched objects, one per detection that has one (best match)."""
        return [m[0].obj.label for m in self.matches if m]

    def lines(self) -> list[str]:
        """Short plain-language lines: one per detection, then the missing objects."""
        if not self.solution.ok:
            return [f"not identified: {self.solution.message}"]
        out = []
        for d in self.detections:
            out.append(d.extras.get("description", ""))
        out += [describe_missing(o) for o in self.missing]
        return out

    def to_dict(self) -> dict:
        h, w = self.height, self.width
        d = {"solution": self.solution.to_dict(w, h), "catalog": self.catalog}
        if not self.solution.ok:
            return d
        boxes = {o.name: b for o, b in self.in_field}  # computed by identify()
        d.update(
            exposure_s=self.exposure_s, mag_limit=round(self.mag_limit, 2), sb_limit=round(self.sb_limit, 2),
            detections=[{"box": [round(float(v), 1) for v in (det.x0, det.y0, det.x1, det.y1)],
                         "score": round(float(det.score), 4),
                         "names": det.extras.get("names", []),
                         "uncatalogued": det.extras.get("uncatalogued", False),
                         "ra": det.extras.get("ra"), "dec": det.extras.get("dec"),
                         "catalog": det.extras.get("catalog", []),
                         "description": det.extras.get("description", "")}
                        for det in self.detections],
            expected=[o.designation for o in self.expected],
            missing=[dict(o.to_dict(), description=describe_missing(o),
                          box=[round(float(v), 1) for v in boxes[o.name]])
                     for o in self.missing],
            in_field=[o.designation for o, _ in self.in_field],
        )
        return d


def _area(b) -> float:
    return max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)


def match_score(det_box, obj_box, obj_semi_major: float | None = None) -> float:
    """Match score in [0, 1] of a detection box and a catalog-object box (0 when disjoint).

    See the module docstring for the formula.
    """
    ix = min(det_box[2], obj_box[2]) - max(det_box[0], obj_box[0])
    iy = min(det_box[3], obj_box[3]) - max(det_box[1], obj_box[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    ad, ao = _area(det_box), _area(obj_box)
    cover = inter / max(min(ad, ao), 1e-9)
    iou = inter / max(ad + ao - inter, 1e-9)
    dx = 0.5 * (det_box[0] + det_box[2] - obj_box[0] - obj_box[2])
    dy = 0.5 * (det_box[1] + det_box[3] - obj_box[1] - obj_box[3])
    if obj_semi_major is None:
        obj_semi_major = 0.5 * max(obj_box[2] - obj_box[0], obj_box[3] - obj_box[1])
    s = max(0.5 * math.hypot(det_box[2] - det_box[0], det_box[3] - det_box[1]), obj_semi_major, 1.0)
    prox = math.exp(-(dx * dx + dy * dy) / (2 * s * s))
    return float(min(1.0, 0.5 * cover + 0.25 * iou + 0.25 * prox))


def limits_for_exposure(exposure_s: float | None) -> tuple[float, float]:
    """``(magnitude limit, surface-brightness limit)`` for an integration time.

    12.0 mag and 24.0 mag/arcsec² at 10 minutes; deeper by 1.25 mag per
    factor 10 in time (background-limited S/N grows as sqrt(t)); the
    magnitude limit is clamped to 10..14.5.
    """
    t = exposure_s if exposure_s and exposure_s > 0 else DEFAULT_EXPOSURE_S
    gain = 1.25 * math.log10(t / DEFAULT_EXPOSURE_S)
    return float(np.clip(12.0 + gain, 10.0, 14.5)), float(np.clip(24.0 + gain, 22.0, 26.5))


def expected_rule(obj: CatalogObject, scale_arcsec: float, mag_limit: float, sb_limit: float,
                  min_size_px: float = 6.0) -> bool:
    """Is ``obj`` bright and large enough to show in a smart-telescope stack?

    Yes when it is a deep-sky type that shows as light (not a dark nebula),
    has a catalog magnitude ``<= mag_limit``, a mean surface brightness
    ``<= sb_limit`` when the catalog gives one, and a major diameter of at
    least ``min_size_px`` pixels (smaller ones look like stars). Objects with
    no magnitude or no size are never "expected": the catalog cannot tell.
    """
    if obj.type in ("DrkN", "*Ass") or obj.mag is None or obj.major_arcmin is None:
        return False
    if obj.mag > mag_limit:
        return False
    if obj.surface_brightness is not None and obj.surface_brightness > sb_limit:
        return False
    return obj.major_arcmin * 60.0 / scale_arcsec >= min_size_px


def objects_in_field(wcs, width: int, height: int, margin_deg: float = 1.5):
    """Catalog objects whose ellipse box touches the frame: ``[(obj, box, centre_inside)]``.

    The cone is widened by ``margin_deg`` so that large nebulae centred
    outside the frame but reaching into it are found.
    """
    ra, dec, radius = field_center_radius(wcs, width, height)
    out = []
    for obj in cone_search(ra, dec, radius + margin_deg):
        if obj.major_arcmin is None and _far(obj, ra, dec, radius):
            continue
        try:
            box = object_box(obj, wcs)
        except Exception:  # behind the projection
            continue
        if not all(np.isfinite(box)):
            continue
        if box[2] < 0 or box[3] < 0 or box[0] > width or box[1] > height:
            continue
        cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
        inside = 0 <= cx < width and 0 <= cy < height
        out.append((obj, box, inside))
    return out


def _far(obj, ra, dec, radius) -> bool:
    from .catalog import _separation

    return float(_separation(ra, dec, obj.ra, obj.dec)) > radius


def identify(image, detections: list[Detection], wcs=None, *, solution: Solution | None = None,
             hint=True, timeout: float = 60.0, exposure_s: float | None = None,
             mag_limit: float | None = None, sb_limit: float | None = None,
             min_score: float = 0.5, index_dir=None) -> IdentifyReport:
    """Name what was detected, flag what is not in the catalog, list what is missing.

    Parameters
    ----------
    image : Image
        The image the detections were made on (its header gives the WCS or
        the solver hint, and the integration time).
    detections : list of Detection
        Updated in place: ``extras["names"]`` (best first), ``extras["catalog"]``
        (dicts with type, magnitudes, size, ``match_score``, ``description``),
        ``extras["uncatalogued"]``, ``extras["description"]`` (one plain line),
        ``extras["ra"]``/``extras["dec"]`` of the box centre. Nothing is added
        when the image cannot be solved.
    wcs : astropy.wcs.WCS, optional
        Use this solution; otherwise ``solution`` or :func:`solve` (header WCS,
        then astrometry.net with ``hint``/``timeout``).
    exposure_s, mag_limit, sb_limit : float, optional
        Override the integration time (header, else 600 s) or the limits it gives.
    min_score : float
        Least :func:`match_score` for a match.

    Returns
    -------
    IdentifyReport
    """
    h, w = image.shape
    if wcs is not None:
        wcs = wcs.celestial.deepcopy() if hasattr(wcs, "celestial") else wcs
        wcs.pixel_shape = (w, h)
        solution = Solution(wcs, source="given")
    elif solution is None:
        solution = solve(image, hint=hint, timeout=timeout, index_dir=index_dir)
    if exposure_s is None:
        exposure_s = integration_time(image.header) or DEFAULT_EXPOSURE_S
    ml, sl = limits_for_exposure(exposure_s)
    report = IdentifyReport(solution, w, h, detections=list(detections), exposure_s=float(exposure_s),
                            mag_limit=ml if mag_limit is None else mag_limit,
                            sb_limit=sl if sb_limit is None else sb_limit)
    if not solution.ok:
        report.matches = [[] for _ in detections]
        return report
    report.catalog = catalog_version()
    wcs = solution.wcs
    scale = pixel_scale(wcs)
    field_objs = objects_in_field(wcs, w, h)
    report.in_field = [(o, b) for o, b, inside in field_objs if inside]
    matched_ids = set()
    centres = [d.center for d in detections]
    world = wcs.all_pix2world(np.array(centres, dtype=float).reshape(-1, 2), 0) if centres else np.zeros((0, 2))
    for det, (ra, dec) in zip(detections, world):
        det_box = (det.x0, det.y0, det.x1, det.y1)
        ms = []
        for obj, box, _ in field_objs:
            sc = match_score(det_box, box, _semi_major_px(obj, scale))
            if sc >= min_score:
                ms.append(ObjectMatch(obj, sc, box))
        # Best first; near-equal scores go to the brighter object.
        ms.sort(key=lambda m: (-round(m.score, 2), m.obj.mag if m.obj.mag is not None else 99.0))
        report.matches.append(ms)
        matched_ids.update(m.obj.name for m in ms)
        det.extras["ra"], det.extras["dec"] = round(float(ra), 5), round(float(dec), 5)
        det.extras["names"] = [m.obj.label for m in ms]  # "Horsehead Nebula (B 33)", best first
        det.extras["ids"] = [m.obj.name for m in ms]  # OpenNGC records, for matching a target
        det.extras["catalog"] = [m.to_dict() for m in ms]
        det.extras["uncatalogued"] = not ms
        det.extras["description"] = describe(ms[0].obj) if ms else describe_uncatalogued(ra, dec)
    report.expected = [o for o, _ in report.in_field
                       if expected_rule(o, scale, report.mag_limit, report.sb_limit)]
    report.missing = [o for o in report.expected if o.name not in matched_ids]
    return report


def _semi_major_px(obj: CatalogObject, scale: float) -> float | None:
    return None if obj.major_arcmin is None else obj.major_arcmin * 30.0 / scale
