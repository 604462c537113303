"""Follow each object across successive stacks of the same field.

Smart telescopes derotate and register their stacks, so an object stays at
the same pixels from one stack to the next: the same object is the one whose
box overlaps. A :class:`Track` keeps, per stack, the best score, which methods
saw it and its measured S/N, against integration time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..detection import Detection
from ..postprocess import box_iou

__all__ = ["Observation", "Track", "update_tracks", "match_boxes", "names_match_target"]


def names_match_target(names, target: str | None) -> bool:
    """Do identified ``names`` refer to ``target``, given by any alias?

    ``"Horsehead"``, ``"Horsehead Nebula"``, ``"B33"`` and ``"B 33"`` all match a
    box named ``"Horsehead Nebula (B 33)"``; ``"Veil"`` matches ``"NGC 6992"``
    (a part of it). Uses :mod:`dsodetect.identify.names` (offline, OpenNGC plus
    a shipped table); without pyongc, names are compared by spelling only.
    """
    if not target:
        return False
    names = [n for n in (names or []) if n]
    try:
        from ..identify.names import matches_target
    except ImportError:  # pragma: no cover - the catalog is a dependency
        matches_target = None
    if matches_target is not None:
        try:
            return matches_target(names, target)
        except (ImportError, RuntimeError, OSError):
            pass
    norm = lambda s: "".join(str(s).lower().split())
    return any(norm(n) == norm(target) for n in names)


@dataclass
class Observation:
    """One object in one stack."""

    stack: int
    seconds: float | None
    score: float
    snr: float | None
    box: tuple[float, float, float, float]
    methods: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    description: str | None = None

    def to_dict(self) -> dict:
        return {"stack": self.stack, "seconds": self.seconds, "score": round(self.score, 4),
                "snr": None if self.snr is None else round(self.snr, 2),
                "box": [round(v, 1) for v in self.box], "methods": self.methods,
                "names": self.names, "description": self.description}


@dataclass
class Track:
    """An object followed across stacks; ``id`` counts from 1 in order of appearance."""

    id: int
    observations: list[Observation] = field(default_factory=list)

    @property
    def box(self):
        """Box of the latest observation."""
        return self.observations[-1].box

    @property
    def first(self) -> Observation:
        return self.observations[0]

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    @property
    def names(self) -> list[str]:
        for obs in reversed(self.observations):
            if obs.names:
                return obs.names
        return []

    @property
    def description(self) -> str | None:
        for obs in reversed(self.observations):
            if obs.description:
                return obs.description
        return None

    def label(self) -> str:
        return self.names[0] if self.names else f"object #{self.id}"

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label(), "names": self.names,
                "description": self.description, "first_stack": self.first.stack,
                "first_seconds": self.first.seconds, "last_stack": self.last.stack,
                "box": [round(v, 1) for v in self.box],
                "observations": [o.to_dict() for o in self.observations]}


def match_boxes(a, b, min_iou: float = 0.1) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of two box sets by IoU, best pairs first.

    Returns ``(i, j, iou)`` for each matched pair with ``iou >= min_iou``.
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    if not len(a) or not len(b):
        return []
    iou = box_iou(a, b)
    pairs = []
    used_a, used_b = set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < min_iou or iou[i, j] <= 0:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((int(i), int(j), float(iou[i, j])))
    return pairs


def update_tracks(tracks: list[Track], detections: list[Detection], stack: int,
                  seconds: float | None, *, min_iou: float = 0.1,
                  snr: list[float | None] | None = None) -> list[Track]:
    """Add one stack's detections (all methods together) to ``tracks``.

    Detections are taken best score first; each joins the track whose latest
    box it overlaps most (IoU >= ``min_iou``), else the track with the same
    catalogue name (when identified), else starts a new track. Several
    methods' boxes on the same object therefore land in one observation.

    Parameters
    ----------
    tracks : list of Track
        Updated in place.
    detections : list of Detection
    stack : int
        Index of this stack in the session.
    seconds : float or None
        Its integration time.
    snr : list, optional
        Measured S/N of each detection (same order as ``detections``).

    Returns
    -------
    list of Track
        The tracks created by this stack (objects seen for the first time).
    """
    snr = list(snr) if snr is not None else [d.extras.get("snr") for d in detections]
    order = sorted(range(len(detections)), key=lambda k: -detections[k].score)
    current: dict[int, Observation] = {}
    new: list[Track] = []
    for k in order:
        d = detections[k]
        box = (float(d.x0), float(d.y0), float(d.x1), float(d.y1))
        best, best_iou = None, min_iou
        if tracks:
            ious = box_iou(np.array([box]), np.array([t.box for t in tracks]))[0]
            j = int(np.argmax(ious))
            if ious[j] >= best_iou and ious[j] > 0:
                best = tracks[j]
        names = list(d.extras.get("names") or [])
        if best is None and names:  # identified: the same catalogue object is the same track
            best = next((t for t in tracks if t.names and t.names[0] == names[0]), None)
        if best is None:
            best = Track(id=max((t.id for t in tracks), default=0) + 1)
            tracks.append(best)
            new.append(best)
        obs = current.get(best.id)
        if obs is None:
            obs = Observation(stack=stack, seconds=seconds, score=float(d.score),
                              snr=None if snr[k] is None else float(snr[k]), box=box,
                              methods=[d.method] if d.method else [], names=names,
                              description=d.extras.get("description"))
            current[best.id] = obs
            best.observations.append(obs)
        else:  # another method (or a fragment) on the same object
            if d.method and d.method not in obs.methods:
                obs.methods.append(d.method)
            obs.names = obs.names or names
            obs.description = obs.description or d.extras.get("description")
    return new
