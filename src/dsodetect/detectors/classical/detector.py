"""The classical ("naive") detector: model-free star removal + diffuse-emission boxes.

The boxes are chosen among candidates by small LightGBM models (:mod:`.scorer`);
no neural network and no downloaded weights are involved.

Pipeline (one image):

1. **Working image.** Reduce to at most ``work_max`` px on the long side
   (area averaging, on linear data before any stretch); linear data (FITS,
   16-bit) get the PixInsight-style auto-stretch so that every input looks like
   the app JPEGs the parameters were tuned on.
2. **No data.** Black or flat-grey wedges and bands touching the border are
   flagged (:func:`.background.nodata_mask`) and OR-ed with ``image.mask``.
3. **Stars.** sep detection on luminance minus a small-mesh background,
   stellarity against the frame's own PSF, flux-dependent disc masks, Telea
   inpainting -> starless image (:mod:`.stars`).
4. **Diffuse emission.** The starless image on a coarse map grid (one map
   pixel = ``map_px`` input pixels), sky plane from the faint part of the
   frame, luminance and red-excess significance at several smoothing scales
   (:mod:`.diffuse`).
5. **Candidates -> boxes.** Boxes of the significant regions at several
   thresholds (merged with :func:`dsodetect.postprocess.merge_overlapping`),
   of the extended compact sources, and of the whole frame
   (:mod:`.candidates`); ordered by a LightGBM ranker and scored by a
   LightGBM classifier fitted on real-train (:mod:`.scorer`), so that the
   score estimates the probability that the box matches an annotated object
   (IoU >= 0.5); the best non-overlapping ones above ``min_score`` are kept.

See ``docs/classical.md``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace

import cv2
import numpy as np

from ...detection import Detection, DetectionResult, MethodOption, Product
from .background import nodata_mask, small_scale_background
from .candidates import (Candidate, compact_candidates, context_features, diffuse_candidates,
                         frame_candidate, image_features, select)
from .diffuse import DiffuseMaps, significance_maps
from .stars import StarCatalog, detect_point_sources, inpaint, star_mask

__all__ = ["ClassicalDetector", "ClassicalParams"]


@dataclass
class ClassicalParams:
    """Tunable parameters (defaults tuned on real-train; see docs/classical.md)."""

    work_max: int = 1600          # long side of the working image, px
    star_bkg_box: int = 32        # sep mesh for star detection (input px)
    star_thresh: float = 3.0      # star detection threshold, sigma
    stellar_ratio: float = 1.6    # r50 / stellar locus above which a source is extended
    map_px: float = 4.0           # input px per diffuse-map pixel
    scales: tuple = (1.0, 2.0, 4.0, 8.0)   # smoothing sigmas, map px
    signals: tuple = ("lum", "red")
    noise_floor: float = 1.0 / 255  # display units
    median_ksize: int = 5         # median filter on the starless image before the map grid
    low: float = 2.5              # lowest region threshold, sigma (also the diffuse_mask)
    high: float = 5.0             # a region must peak above this, sigma
    min_area: int = 12            # map px
    close: int = 2                # closing radius, map px
    margin: float = 0.0           # box growth, fraction of the box size each side
    margin_px: float = 4.0        # plus this many map px each side
    merge_gap: float = 0.08       # join boxes closer than this fraction of the frame
    levels: tuple = (0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8)  # x the map's 99.5th pct
    cand_signals: tuple = ("comb", "red", "lum")  # maps that give diffuse candidates ('comb', 'lum', 'red')
    unions: bool = True           # also the box around all regions of a level
    compact_min_snr: float = 10.0  # extended compact sources: peak S/N needed
    compact_box_scales: tuple = (1.0, 2.0, 4.0)  # box half-size = scale * footprint radius + pad
    compact_pad: float = 8.0      # input px
    compact_max: int = 3
    select_overlap: float = 0.3   # suppress a candidate covering > this of a better one
    max_boxes: int = 3
    min_score: float | None = None  # None: the scorer model's best-F1 threshold (CV on real-train)

    def updated(self, **kw) -> "ClassicalParams":
        return replace(self, **kw)


class ClassicalDetector:
    """Classical detector: remove stars (model-free), find diffuse emission, box it.

    Parameters
    ----------
    star_remover : {'builtin', 'starnet'}
        ``builtin`` is the model-free remover of :mod:`.stars`; ``starnet``
        runs a StarNet++ binary (see :mod:`.starnet`) and raises
        ``FileNotFoundError`` when none is installed.
    params : ClassicalParams, optional
    **overrides
        Any :class:`ClassicalParams` field, e.g. ``min_score=0.3``.
    scorer : CandidateScorer, optional
        Candidate scorer; default the model shipped with the package.
    """

    name = "classical"
    #: The scorer was fitted on 640 px app tiles: larger frames are tiled at that size, with a
    #: quarter overlap (on held-out real-train mosaics it scored F1 0.23 against 0.08 for windows
    #: twice as large), in two threads (OpenCV, sep and LightGBM release the GIL).
    tile_size = 640
    tiling = {"overlap": 0.25, "workers": 2}
    options = (
        MethodOption("star_remover", str, "builtin", "'builtin' or 'starnet' (a StarNet++ binary).",
                     choices=("builtin", "starnet")),
        MethodOption("max_boxes", int, 3, "Most boxes kept per image (per tile on large frames)."),
    )

    def __init__(self, star_remover: str = "builtin", params: ClassicalParams | None = None,
                 scorer=None, **overrides):
        if star_remover not in ("builtin", "starnet"):
            raise ValueError(f"unknown star remover {star_remover!r}; use 'builtin' or 'starnet'")
        known = {f.name for f in fields(ClassicalParams)}
        bad = set(overrides) - known
        if bad:
            raise ValueError(f"unknown classical parameter(s): {', '.join(sorted(bad))}")
        self.params = (params or ClassicalParams()).updated(**overrides)
        self._scorer = scorer
        self.star_remover = star_remover
        self._starnet = None
        if star_remover == "starnet":
            from .starnet import StarNet
            self._starnet = StarNet()  # raises FileNotFoundError with install hints

    @property
    def scorer(self):
        """The candidate scorer (:mod:`.scorer`), loaded on first use."""
        if self._scorer is None:
            from .scorer import CandidateScorer
            self._scorer = CandidateScorer()
        return self._scorer

    @property
    def min_score(self) -> float:
        """Score threshold in use: ``params.min_score`` or the scorer model's."""
        if self.params.min_score is not None:
            return self.params.min_score
        stored = self.scorer.min_score
        return 0.1 if stored is None else stored

    # ------------------------------------------------------------------ stages
    def prepare(self, image):
        """Working-resolution display image, no-data mask and scale factor."""
        p = self.params
        data = image.data
        h, w = data.shape[:2]
        f = min(1.0, p.work_max / max(h, w))
        base = image.mask if image.mask is not None else np.zeros((h, w), bool)
        if f < 1.0:
            size = (max(8, int(round(w * f))), max(8, int(round(h * f))))
            work = cv2.resize(data, size, interpolation=cv2.INTER_AREA)
            base = cv2.resize(base.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        else:
            work = np.asarray(data, dtype=np.float32)
        if not image.stretched:
            from ...io.stretch import auto_stretch
            # Unlinked, like Image.display(): a light-pollution cast would
            # otherwise read as red (H-alpha) excess everywhere.
            work = auto_stretch(work, mask=base, linked=False)
        else:
            work = np.clip(work, 0.0, 1.0).astype(np.float32)
        nodata = nodata_mask(work, base)
        return work, nodata, f

    def remove_stars(self, work, nodata, f):
        """Star catalog, star mask and starless image at working resolution."""
        p = self.params
        gray = work.mean(axis=2) if work.ndim == 3 else work
        raw = work.max(axis=2) if work.ndim == 3 else work
        box = max(12, int(round(p.star_bkg_box * f)))
        bkg, rms = small_scale_background(gray, nodata, box)
        cat = detect_point_sources(gray - bkg, rms, nodata, thresh=p.star_thresh, raw=raw,
                                   stellar_ratio=p.stellar_ratio,
                                   saturation=0.97 if work.max() > 0.5 else 2.0)
        smask = star_mask(gray.shape, cat) & ~nodata
        if self._starnet is not None:
            starless = self._starnet.remove(work)
        else:
            starless = inpaint(work, smask)
        return cat, smask, starless

    def diffuse(self, starless, nodata, f) -> tuple[DiffuseMaps, float]:
        """Significance maps on the map grid; returns the maps and map px per working px."""
        p = self.params
        g = 1.0 / (p.map_px * f) if f > 0 else 1.0 / p.map_px  # working -> map
        g = min(g, 1.0)
        h, w = starless.shape[:2]
        size = (max(8, int(round(w * g))), max(8, int(round(h * g))))
        valid_w = (~nodata).astype(np.float32)
        if p.median_ksize > 1:
            starless = cv2.medianBlur(np.ascontiguousarray(starless, dtype=np.float32), p.median_ksize)
        sm = cv2.resize(starless * (valid_w[..., None] if starless.ndim == 3 else valid_w), size,
                        interpolation=cv2.INTER_AREA)
        vm = cv2.resize(valid_w, size, interpolation=cv2.INTER_AREA)
        valid = vm > 0.5
        norm = np.maximum(vm, 1e-6)
        sm = sm / (norm[..., None] if sm.ndim == 3 else norm)
        maps = significance_maps(sm, valid, p.scales, signals=p.signals, noise_floor=p.noise_floor)
        return maps, size[0] / w

    def candidates(self, maps: DiffuseMaps, map_to_input: float, f: float, shape,
                   ext: StarCatalog, n_stars: int) -> list[Candidate]:
        """All box candidates of one image with their features, unscored.

        ``ext`` holds the extended (non-star) sources, ``n_stars`` counts the
        stars. ``benchmarks/tune_classical.py`` builds the scorer's training
        rows with this same method, so training and detection cannot drift.
        """
        p = self.params
        img = image_features(maps, n_stars)
        cands = diffuse_candidates(maps, map_to_input, shape, img, levels=p.levels, low=p.low,
                                   high=p.high, min_area=p.min_area, close=p.close,
                                   margin=p.margin, margin_px=p.margin_px, merge_gap=p.merge_gap,
                                   signals=p.cand_signals, unions=p.unions)
        cands += compact_candidates(ext.x, ext.y, ext.peak, ext.r50, ext.r_foot, ext.saturated,
                                    rms=ext.rms, r50_psf=ext.r50_psf, work_scale=f, shape=shape,
                                    img=img, min_snr=p.compact_min_snr,
                                    box_scales=p.compact_box_scales, pad=p.compact_pad,
                                    max_n=p.compact_max)
        cands += frame_candidate(maps, map_to_input, shape, img)
        return context_features(cands, maps, map_to_input, shape, img)

    # -------------------------------------------------------------------- API
    def detect(self, image) -> DetectionResult:
        """Detect deep-sky objects in a :class:`dsodetect.io.Image`.

        Returns
        -------
        DetectionResult
            Boxes best first, and the products ``starless`` (image),
            ``star_mask`` and ``diffuse_mask`` (masks) at the working
            resolution (the image's size up to ``work_max`` px).
        """
        t0 = time.perf_counter()
        p = self.params
        work, nodata, f = self.prepare(image)
        cat, smask, starless = self.remove_stars(work, nodata, f)
        maps, map_per_work = self.diffuse(starless, nodata, f)
        map_to_input = 1.0 / (map_per_work * f)
        cands = self.scorer(self.candidates(maps, map_to_input, f, image.shape,
                                            cat.select(~cat.is_star), int(cat.is_star.sum())))
        kept = select(cands, min_score=self.min_score, max_boxes=p.max_boxes, overlap=p.select_overlap)
        dets = [Detection(c.x0, c.y0, c.x1, c.y1, score=c.score, method=self.name,
                          extras={"kind": c.kind, **{k: round(v, 3) for k, v in c.feats.items()
                                                     if k in ("log_snr", "log_peak", "log_peak_snr")}})
                for c in kept]
        return DetectionResult(image, self.name, dets, products=self._products(starless, smask, maps),
                               seconds=time.perf_counter() - t0)

    def _products(self, starless, smask, maps):
        """Starless image and masks at the *working* resolution.

        That is the image's own size for tiles (up to ``work_max`` px); full
        frames give products ``work_max`` px on their long side, which keeps
        a 3096x2080 frame within its time and memory budget.
        """
        h, w = smask.shape
        dm = (maps.combined > self.params.low) & maps.valid
        dm = cv2.resize(dm.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        return {"starless": Product(starless, "image", "the image with its stars removed (inpainted)"),
                "star_mask": Product(smask, "mask", "pixels covered by stars"),
                "diffuse_mask": Product(dm, "mask", "significant diffuse emission")}
