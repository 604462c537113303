"""The candidate scorer: which box of an image is the object, and how sure.

Almost every annotated tile holds one object, drawn as one generous box, and
the candidate stage offers dozens of nested boxes around it (the same nebula
at ten thresholds, a galaxy at three sizes, the whole frame). Two
gradient-boosted tree models (LightGBM) over the candidates' features
(:func:`feature_matrix`) share the work:

* a **ranker** (LambdaRank, one query per image, relevance graded by the IoU
  with the annotated box: < 0.3, 0.3-0.5, 0.5-0.7, >= 0.7) orders the
  candidates of an image. Ranking compares boxes of one image with each
  other, which is the choice to be made; a classifier has to score every box
  on one absolute scale.
* a **classifier** (binary: IoU >= 0.5) estimates the probability that a box
  is a correct detection.

The score of a candidate is the classifier's probability discounted by how
far the ranker puts it below the image's best, ``p * exp(r - r_max)``: the
ranker decides between boxes the classifier finds about equally likely (the
core of a nebula against its whole extent), a clearly more probable box wins
over a slightly better-ranked one, and the score stays a conservative
probability, comparable across images, that :func:`.candidates.select`
thresholds with ``min_score``. (Taking the ranker's order outright, with the
probability capped in rank order, scored 0.413 in cross-validation against
0.426 for the product, the classifier alone 0.405.)
Each model is an average over a few seeds. They are fitted on real-train by
``dsodetect train classical`` (:mod:`dsodetect.train.classical`) and ship
as the model ``classical-scorer`` (:mod:`dsodetect.models`, with its card);
see ``docs/classical.md``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from .candidates import CONTEXT, FEATURES, Candidate

__all__ = ["FEATURE_NAMES", "KINDS", "CandidateScorer", "combine_scores", "feature_matrix", "fit_scorer",
           "MODEL_NAME", "RELEVANCE_BINS", "SEEDS"]

KINDS = ("diffuse", "compact", "frame")
#: Columns of :func:`feature_matrix`: every kind's features (NaN where a kind
#: lacks one), the kind as one-hot, then the context features.
FEATURE_NAMES = (sorted({f for names in FEATURES.values() for f in names})
                 + [f"kind_{k}" for k in KINDS] + list(CONTEXT))
#: IoU edges of the ranker's relevance grades.
RELEVANCE_BINS = (0.3, 0.5, 0.7)
#: Registry name of the shipped model (:mod:`dsodetect.models`).
MODEL_NAME = "classical-scorer"
#: One ranker and one classifier per seed; predictions are averaged.
SEEDS = (0, 1, 2, 3, 4)

_PARAMS = dict(learning_rate=0.05, num_leaves=15, min_data_in_leaf=40, lambda_l2=1.0,
               feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, num_threads=2,
               verbose=-1)


def feature_matrix(cands: list[Candidate]) -> np.ndarray:
    """``(n, len(FEATURE_NAMES))`` float64 array of the candidates' features."""
    rows = []
    for c in cands:
        f = {**c.feats, **{f"kind_{k}": float(c.kind == k) for k in KINDS}}
        rows.append([f.get(name, np.nan) for name in FEATURE_NAMES])
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))


def _lightgbm():
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - lightgbm is a dependency
        raise ImportError("the classical detector's scorer needs LightGBM: pip install lightgbm") from exc
    return lightgbm


def fit_scorer(X: list[np.ndarray], iou: list[np.ndarray], *, seeds=SEEDS,
               rounds: int = 300) -> dict:
    """Fit ranker and classifier on per-image feature matrices and best IoUs.

    Parameters
    ----------
    X : list of ndarray
        One :func:`feature_matrix` per image.
    iou : list of ndarray
        Per image, each candidate's highest IoU with an annotated box (0 for
        images without objects).
    seeds : sequence of int
        One model of each kind per seed; predictions are averaged.

    Returns
    -------
    dict
        ``{"features", "ranker": [model text], "classifier": [model text]}``,
        what :class:`CandidateScorer` loads.
    """
    lgb = _lightgbm()
    Xa = np.vstack(X)
    y = np.concatenate(iou)
    groups = [len(x) for x in X]
    out = {"features": list(FEATURE_NAMES), "relevance_bins": list(RELEVANCE_BINS),
           "ranker": [], "classifier": []}
    for seed in seeds:
        rank = lgb.train({**_PARAMS, "seed": seed, "objective": "lambdarank",
                          "lambdarank_truncation_level": 5},
                         lgb.Dataset(Xa, np.digitize(y, RELEVANCE_BINS), group=groups), rounds)
        cls = lgb.train({**_PARAMS, "seed": seed, "objective": "binary"},
                        lgb.Dataset(Xa, (y >= 0.5).astype(int)), rounds)
        out["ranker"].append(rank.model_to_string())
        out["classifier"].append(cls.model_to_string())
    return out


class CandidateScorer:
    """Scores the candidates of one image (see the module docstring).

    Parameters
    ----------
    model : dict or path or str, optional
        What :func:`fit_scorer` returns, a (gzipped) JSON file of it, or a
        model name of :mod:`dsodetect.models`; default ``classical-scorer``.
    """

    def __init__(self, model: dict | str | Path | None = None):
        if model is None or isinstance(model, (str, Path)):
            from ...models import model_path

            model = self.load(model_path(model or MODEL_NAME))
        if list(model["features"]) != list(FEATURE_NAMES):
            raise ValueError("the scorer model was fitted on other candidate features than the code "
                             "now makes: refit with 'dsodetect train classical --data <real-train> --final'")
        lgb = _lightgbm()
        self.info = {k: v for k, v in model.items() if k not in ("ranker", "classifier")}
        self._ranker = [lgb.Booster(model_str=s) for s in model["ranker"]]
        self._classifier = [lgb.Booster(model_str=s) for s in model["classifier"]]

    @staticmethod
    def load(path) -> dict:
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            return json.load(fh)

    @staticmethod
    def save(model: dict, path) -> None:
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as fh:
            json.dump(model, fh)

    @property
    def min_score(self) -> float | None:
        """The best-F1 threshold found by cross-validation when fitting, if stored."""
        return self.info.get("min_score")

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ranker scores and classifier probabilities for one image's rows."""
        if len(X) == 0:
            return np.zeros(0), np.zeros(0)
        rank = np.mean([b.predict(X, num_threads=1) for b in self._ranker], axis=0)
        prob = np.mean([b.predict(X, num_threads=1) for b in self._classifier], axis=0)
        return rank, prob

    def __call__(self, cands: list[Candidate]) -> list[Candidate]:
        """Set every candidate's ``score``; returns them in rank order (best first)."""
        rank, prob = self.predict(feature_matrix(cands))
        return combine_scores(cands, rank, prob)


def combine_scores(cands: list[Candidate], rank: np.ndarray, prob: np.ndarray,
                   weight: float = 1.0) -> list[Candidate]:
    """Set ``score = prob * exp(weight * (rank - max(rank)))``; returns best first."""
    rank = np.asarray(rank, dtype=np.float64)
    score = np.asarray(prob, dtype=np.float64) * np.exp(weight * (rank - rank.max())) if len(rank) else rank
    for c, v in zip(cands, score):
        c.score = float(v)
    return [cands[i] for i in np.argsort(-score, kind="stable")]
