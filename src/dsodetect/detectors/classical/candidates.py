"""Box candidates and their scores.

Three kinds of candidate boxes come out of one image:

``diffuse``
    regions of the diffuse significance map (:mod:`.diffuse`) at a few
    thresholds: an absolute floor in sigma, raised to a fraction ``rel`` of the
    map's 99.5th percentile, so that a bright nebula is boxed around its
    visible body rather than around every faint wisp in the frame. Regions at
    one threshold that overlap or lie within ``merge_gap`` of each other are
    merged (a nebula is one box, not forty), each box grown by a margin.
``compact``
    extended sources of the star catalogue (sources larger than the PSF that
    the stellarity test kept out of the star mask: small galaxies, planetary
    nebulae, globular clusters), boxed generously around their footprint.
``frame``
    the whole valid frame, for nebulae that fill the field.

Each candidate gets measurements of its own (size, S/N, peak, rank, type:
:data:`FEATURES`) and of its context in the image (:func:`context_features`);
:mod:`.scorer` turns them into a score, the estimated probability that the
box matches an annotated object at IoU >= 0.5, and :func:`select` keeps the
best non-overlapping boxes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

from ...detection import Detection
from ...postprocess import box_ios, box_iou, merge_overlapping
from .diffuse import DiffuseMaps, find_regions

__all__ = ["Candidate", "diffuse_candidates", "compact_candidates", "frame_candidate",
           "image_features", "context_features", "FEATURES", "CONTEXT", "select"]

#: Feature names per candidate kind (columns of :func:`.scorer.feature_matrix`).
FEATURES = {
    "diffuse": ["log_area", "level", "log_snr", "log_peak", "share", "is_top", "border", "aspect",
                "neb", "valid_frac", "log_area2", "is_union", "sig_red", "sig_lum", "fill", "contrast",
                "area_x_neb", "area_x_fill", "area_x_level", "fill2", "area_x_vis",
                "level2", "area_x_snr", "area_x_share", "area_x_union", "area_x_border",
                "area_x_peak", "fill_x_contrast", "neb2", "area3"],
    "compact": ["log_area", "log_peak_snr", "log_size", "saturated", "is_top", "log_scale", "rank",
                "neb", "log_nstars"],
    "frame": ["neb", "valid_frac", "log_nstars", "red_frac", "vis_frac"],
}


@dataclass
class Candidate:
    """A box the classical method considers, with the features its scorer reads.

    Not a :class:`~dsodetect.detection.Detection`: a candidate lives only
    inside the classical detector (dozens per image, each with ~40 features
    and its ``kind``) and is mutable while it is scored; the few that are
    selected leave the detector as Detections.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    kind: str
    feats: dict = field(default_factory=dict)
    score: float = 0.0

    @property
    def box(self):
        return (self.x0, self.y0, self.x1, self.y1)


def _clip_box(x0, y0, x1, y1, w, h):
    return max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)


def image_features(maps: DiffuseMaps, n_stars: int) -> dict:
    """Whole-image measurements shared by all candidates."""
    valid = maps.valid
    sig = maps.combined
    p995 = float(np.percentile(sig[valid], 99.5)) if valid.any() else 0.0
    red = maps.sig.get("red")
    red_frac = float(np.mean(red[valid] > 3.0)) if red is not None and valid.any() else 0.0
    vis_frac = float(np.mean(sig[valid] > max(2.0, 0.25 * p995))) if valid.any() else 0.0
    return {"neb": float(np.log1p(max(p995, 0.0))), "p995": p995, "vis_frac": vis_frac,
            "valid_frac": float(valid.mean()), "log_nstars": float(np.log10(1 + n_stars)),
            "red_frac": red_frac}


def diffuse_candidates(maps: DiffuseMaps, map_to_input: float, shape, img: dict, *,
                       levels=(0.1, 0.25, 0.5), low: float = 2.0, high: float = 5.0,
                       min_area: int = 12, close: int = 2, margin: float = 0.05,
                       margin_px: float = 2.0, merge_gap: float = 0.05,
                       signals=("comb",), unions: bool = True) -> list[Candidate]:
    """Region boxes of the significance maps at each threshold level.

    For every signal (``comb`` = max of all, or one of ``maps.sig``) and
    level, the regions above threshold are boxed and merged when they overlap
    or come within ``merge_gap`` of the frame size; with ``unions``, the box
    around all regions of that level is a candidate too.
    """
    H, W = shape
    out = []
    comb = maps.combined
    p995c = img["p995"]
    vis = ((comb > max(low, 0.25 * p995c)) & maps.valid).astype(np.float64)
    ii_vis = cv2.integral(vis)
    ii_valid = cv2.integral(maps.valid.astype(np.float64))
    ii_sig = cv2.integral(np.where(maps.valid, np.clip(comb, 0, None), 0).astype(np.float64))

    def box_stats(box):
        """Visible fraction and mean significance (/ p99.5) inside a box (input px)."""
        mh, mw = comb.shape
        x0, y0 = int(np.clip(box[0] / map_to_input, 0, mw)), int(np.clip(box[1] / map_to_input, 0, mh))
        x1, y1 = int(np.clip(np.ceil(box[2] / map_to_input), 0, mw)), int(np.clip(np.ceil(box[3] / map_to_input), 0, mh))

        def tot(ii):
            return ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
        n = tot(ii_valid)
        if n <= 0:
            return 0.0, 0.0
        return float(tot(ii_vis) / n), float(tot(ii_sig) / n / max(p995c, 1.0))

    for sname in signals:
        sig = comb if sname == "comb" else maps.sig.get(sname)
        if sig is None:
            continue
        if sname == "comb":
            p995 = p995c
        else:
            p995 = float(np.percentile(sig[maps.valid], 99.5)) if maps.valid.any() else 0.0
        for level in levels:
            thr = max(low, level * p995)
            regions = find_regions(sig, maps.valid, low=thr, high=max(high, thr), min_area=min_area,
                                   close=close)
            if not regions:
                continue
            dets = []
            for r in regions:
                bw, bh = r.x1 - r.x0, r.y1 - r.y0
                mx, my = margin * bw + margin_px, margin * bh + margin_px
                box = _clip_box((r.x0 - mx) * map_to_input, (r.y0 - my) * map_to_input,
                                (r.x1 + mx) * map_to_input, (r.y1 + my) * map_to_input, W, H)
                dets.append(Detection(*box, score=r.snr, extras={"peak": r.peak, "snr": r.snr}))
            groups = _merge_groups(dets, merge_gap * max(H, W))
            total = float(np.sqrt(sum(g[1] ** 2 for g in groups))) or 1.0
            groups.sort(key=lambda g: -g[1])
            if unions and len(groups) > 1:
                b = np.array([g[0] for g in groups])
                union = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
                groups.append((union, total, max(g[2] for g in groups), True))
            for rank, g in enumerate(groups):
                box, snr, peak = g[0], g[1], g[2]
                is_union = len(g) > 3
                c = _diffuse_candidate(box, snr, peak, total, rank, is_union, level, sname, img, W, H)
                fill, contrast = box_stats(box)
                la = c.feats["log_area"]
                c.feats.update(fill=fill, contrast=contrast, area_x_neb=la * img["neb"],
                               area_x_fill=la * fill, area_x_level=la * level, fill2=fill * fill,
                               area_x_vis=la * img["vis_frac"], level2=level * level,
                               area_x_snr=la * c.feats["log_snr"], area_x_share=la * c.feats["share"],
                               area_x_union=la * c.feats["is_union"],
                               area_x_border=la * c.feats["border"],
                               area_x_peak=la * c.feats["log_peak"], fill_x_contrast=fill * contrast,
                               neb2=img["neb"] ** 2, area3=la ** 3)
                out.append(c)
    return out


def _merge_groups(dets, gap):
    """Merge region boxes; returns ``[(box, summed_snr, max_peak)]``."""
    if len(dets) == 1:
        d = dets[0]
        return [((d.x0, d.y0, d.x1, d.y1), d.extras["snr"], d.extras["peak"])]
    merged = merge_overlapping(dets, gap=gap)
    groups = []
    for m in merged:
        members = [d for d in dets if d.x0 >= m.x0 - 1e-6 and d.y0 >= m.y0 - 1e-6
                   and d.x1 <= m.x1 + 1e-6 and d.y1 <= m.y1 + 1e-6]
        snr = float(np.sqrt(sum(d.extras["snr"] ** 2 for d in members)))
        peak = max(d.extras["peak"] for d in members)
        groups.append(((m.x0, m.y0, m.x1, m.y1), snr, peak))
    return groups


def _diffuse_candidate(box, snr, peak, total, rank, is_union, level, sname, img, W, H):
    x0, y0, x1, y1 = box
    area = max((x1 - x0) * (y1 - y0), 1.0) / (H * W)
    border = float(x0 <= 1 or y0 <= 1 or x1 >= W - 1 or y1 >= H - 1)
    la = float(np.log10(area))
    return Candidate(x0, y0, x1, y1, "diffuse", {
        "log_area": la, "level": float(level),
        "log_snr": float(np.log10(1 + snr)), "log_peak": float(np.log10(1 + peak)),
        "share": min(snr / total, 1.0), "is_top": float(rank == 0 and not is_union),
        "border": border, "aspect": float(abs(np.log(max(x1 - x0, 1) / max(y1 - y0, 1)))),
        "neb": img["neb"], "valid_frac": img["valid_frac"], "log_area2": la * la,
        "is_union": float(is_union), "sig_red": float(sname == "red"),
        "sig_lum": float(sname == "lum")})


def compact_candidates(x, y, peak, r50, r_foot, saturated, *, rms: float, r50_psf: float,
                       work_scale: float, shape, img: dict, min_snr: float = 10.0,
                       box_scales=(1.0, 2.0, 4.0), pad: float = 8.0,
                       max_n: int = 3) -> list[Candidate]:
    """Boxes around the strongest extended compact sources (catalogue at working resolution).

    Sources are ranked by peak S/N times half-light radius (bright *and*
    extended first); each of the best ``max_n`` gives one box per scale in
    ``box_scales``, half-size ``scale * footprint radius + pad`` input pixels
    (the annotated extent of a small galaxy ranges from its core to several
    times its footprint; the scorer learns which size to trust).
    """
    H, W = shape
    if len(x) == 0:
        return []
    snr = np.asarray(peak) / max(rms, 1e-9)
    keep = np.flatnonzero(snr >= min_snr)
    if keep.size == 0:
        return []
    order = keep[np.argsort(-(snr[keep] * np.asarray(r50)[keep]))][:max_n]
    out = []
    for rank, i in enumerate(order):
        cx, cy = x[i] / work_scale, y[i] / work_scale
        foot = r_foot[i] / work_scale
        for scale in box_scales:
            half = scale * foot + pad
            box = _clip_box(cx - half, cy - half, cx + half, cy + half, W, H)
            area = max((box[2] - box[0]) * (box[3] - box[1]), 1.0) / (H * W)
            out.append(Candidate(*box, "compact", {
                "log_area": float(np.log10(area)), "log_peak_snr": float(np.log10(1 + snr[i])),
                "log_size": float(np.log10(max(r50[i], 1e-3) / max(r50_psf, 1e-3))),
                "saturated": float(saturated[i]), "is_top": float(rank == 0),
                "log_scale": float(np.log2(scale)), "rank": float(rank),
                "neb": img["neb"], "log_nstars": img["log_nstars"]}))
    return out


def frame_candidate(maps: DiffuseMaps, map_to_input: float, shape, img: dict) -> list[Candidate]:
    """The bounding box of the valid data (the whole frame for most images)."""
    H, W = shape
    ys, xs = np.nonzero(maps.valid)
    if xs.size == 0:
        return []
    box = _clip_box(xs.min() * map_to_input, ys.min() * map_to_input,
                    (xs.max() + 1) * map_to_input, (ys.max() + 1) * map_to_input, W, H)
    return [Candidate(*box, "frame", {k: img[k] for k in FEATURES["frame"]})]


#: Context features of a candidate: how it sits in the significance map and
#: among the image's other candidates (:func:`context_features`).
CONTEXT = ["bw", "bh", "cdist", "mass", "mass3", "ring_ratio", "mean_in", "n_same", "n_same6",
           "rel_area", "area_rank", "edge_max", "edge_min", "edge_mean", "n_border", "in_strip",
           "img_neb", "img_valid_frac", "img_log_nstars", "img_red_frac", "img_vis_frac"]


def context_features(cands: list[Candidate], maps: DiffuseMaps, map_to_input: float,
                     shape, img: dict) -> list[Candidate]:
    """Add :data:`CONTEXT` measurements to every candidate's ``feats``.

    The per-kind features describe a region by itself; which of an image's
    nested boxes the annotator drew is decided by comparison: the share of
    the frame's significant light inside the box (``mass``, ``mass3`` for
    the > 3 sigma part), the light in a ring 25 % around it against inside
    (``ring_ratio``), the contrast across each side (``edge_*``: mean
    significance in a strip 15 % of the box outside the side over the strip
    inside; ``in_strip``: inside strips over the box mean), how many other
    candidates are nearly the same box (``n_same``: IoU > 0.8, ``n_same6``:
    > 0.6, a stable region), its size against the image's largest
    candidate, and the whole image's measurements (``img_*``, from
    :func:`image_features`: nebulosity, star count, red and visible
    fractions), which every kind of candidate is compared against.
    """
    if not cands:
        return cands
    H, W = shape
    comb, valid = maps.combined, maps.valid
    sig = np.where(valid, np.clip(comb, 0, None), 0).astype(np.float64)
    sig3 = np.where(valid & (comb > 3), comb, 0).astype(np.float64)
    ii = np.stack([cv2.integral(a) for a in (sig, sig3, valid.astype(np.float64))])
    totals = ii[:, -1, -1]
    mh, mw = comb.shape

    def sums(b):
        """Sums of (sig, sig3, valid) inside boxes ``b[..., 4]`` (input px): shape (3, ...)."""
        g = np.round(b / map_to_input)
        x0, x1 = (np.clip(g[..., k], 0, mw).astype(int) for k in (0, 2))
        y0, y1 = (np.clip(g[..., k], 0, mh).astype(int) for k in (1, 3))
        return ii[:, y1, x1] - ii[:, y0, x1] - ii[:, y1, x0] + ii[:, y0, x0]

    def mean(b):
        s = sums(b)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s[2] > 0, s[0] / s[2], np.nan)

    B = np.array([c.box for c in cands], dtype=np.float64)
    x0, y0, x1, y1 = B.T
    bw, bh = x1 - x0, y1 - y0
    inner = sums(B)
    grown = np.stack([x0 - 0.25 * bw, y0 - 0.25 * bh, x1 + 0.25 * bw, y1 + 0.25 * bh], axis=-1)
    ring = sums(grown) - inner
    mean_in = inner[0] / np.maximum(inner[2], 1)
    mean_ring = ring[0] / np.maximum(ring[2], 1)
    f = 0.15
    # (outside, inside) strip pairs for the left, right, top and bottom sides
    strips = mean(np.stack([
        np.stack([x0 - f * bw, y0, x0, y1], -1), np.stack([x0, y0, x0 + f * bw, y1], -1),
        np.stack([x1, y0, x1 + f * bw, y1], -1), np.stack([x1 - f * bw, y0, x1, y1], -1),
        np.stack([x0, y0 - f * bh, x1, y0], -1), np.stack([x0, y0, x1, y0 + f * bh], -1),
        np.stack([x0, y1, x1, y1 + f * bh], -1), np.stack([x0, y1 - f * bh, x1, y1], -1)], axis=1))
    edges = strips[:, 0::2] / np.maximum(strips[:, 1::2], 1e-3)  # NaN where a strip is off the data
    inside = strips[:, 1::2]
    same = box_iou(B, B)
    la = np.log10(np.maximum(bw * bh, 1) / (H * W))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as wanted
        edge_max, edge_min, edge_mean = np.nanmax(edges, 1), np.nanmin(edges, 1), np.nanmean(edges, 1)
        in_strip = np.nanmean(inside, 1) / np.maximum(mean_in, 1e-6)
    whole = {f"img_{k}": img[k] for k in ("neb", "valid_frac", "log_nstars", "red_frac", "vis_frac")}
    cols = {
        "bw": bw / W, "bh": bh / H, "cdist": np.hypot((x0 + x1) / 2 / W - 0.5, (y0 + y1) / 2 / H - 0.5),
        "mass": inner[0] / max(totals[0], 1e-9), "mass3": inner[1] / max(totals[1], 1e-9),
        "ring_ratio": mean_ring / np.maximum(mean_in, 1e-6), "mean_in": mean_in,
        "n_same": (same > 0.8).sum(1) - 1.0, "n_same6": (same > 0.6).sum(1) - 1.0,
        "rel_area": la - la.max(), "area_rank": (la[None, :] > la[:, None]).sum(1).astype(float),
        "edge_max": edge_max, "edge_min": edge_min, "edge_mean": edge_mean,
        "n_border": ((x0 <= 1).astype(float) + (y0 <= 1) + (x1 >= W - 1) + (y1 >= H - 1)),
        "in_strip": in_strip,
    }
    for i, c in enumerate(cands):
        c.feats.update({k: float(v[i]) for k, v in cols.items()}, **whole)
    return cands


def select(cands: list[Candidate], *, min_score: float = 0.0, max_boxes: int = 3,
           overlap: float = 0.3) -> list[Candidate]:
    """Greedy by score: keep a candidate unless it overlaps a kept one.

    Overlap is intersection over the smaller box, so a nested box (the same
    nebula at another threshold) is suppressed as well as a near-duplicate.
    """
    ranked = [c for c in sorted(cands, key=lambda c: -c.score) if c.score >= min_score]
    if not ranked:
        return []
    boxes = np.array([c.box for c in ranked])
    ios = box_ios(boxes, boxes)
    kept: list[int] = []
    for i in range(len(ranked)):
        if len(kept) >= max_boxes:
            break
        if not kept or ios[i, kept].max() <= overlap:
            kept.append(i)
    return [ranked[i] for i in kept]
