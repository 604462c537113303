"""The classical detector's candidate scorer (LightGBM ranker + classifier)."""

from __future__ import annotations

import numpy as np
import pytest

from dsodetect.detectors.classical.candidates import Candidate
from dsodetect.detectors.classical.scorer import (FEATURE_NAMES, MODEL_NAME, CandidateScorer,
                                                  combine_scores, feature_matrix, fit_scorer)


def _cand(kind="diffuse", **feats):
    return Candidate(0, 0, 10, 10, kind, dict(feats))


def test_feature_matrix_columns_and_missing_values():
    X = feature_matrix([_cand(log_area=-1.0, mass=0.5), _cand("frame", neb=2.0)])
    assert X.shape == (2, len(FEATURE_NAMES))
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert X[0, col["log_area"]] == -1.0 and X[0, col["mass"]] == 0.5
    assert np.isnan(X[0, col["neb"]]) and X[1, col["neb"]] == 2.0
    assert X[0, col["kind_diffuse"]] == 1 and X[1, col["kind_frame"]] == 1 and X[1, col["kind_diffuse"]] == 0


def test_combine_scores_orders_by_probability_and_rank():
    cands = [_cand() for _ in range(3)]
    # Box 0 is ranked slightly higher, box 1 is far more probable: box 1 wins.
    out = combine_scores(cands, np.array([0.3, 0.0, -2.0]), np.array([0.1, 0.9, 0.9]))
    assert out[0] is cands[1] and out[-1] is cands[2]
    assert all(c.score <= p + 1e-12 for c, p in zip(cands, (0.1, 0.9, 0.9)))
    # Equal probabilities: the ranker decides.
    cands = [_cand() for _ in range(3)]
    out = combine_scores(cands, np.array([0.0, 1.0, 0.5]), np.full(3, 0.5))
    assert [cands.index(c) for c in out] == [1, 2, 0]
    assert out[0].score == pytest.approx(0.5)
    assert combine_scores([], np.zeros(0), np.zeros(0)) == []


def _toy_images(rng, n=60):
    """Images of 20 candidates each; the IoU with the truth follows ``mass``."""
    X, iou = [], []
    col = FEATURE_NAMES.index("mass")
    for _ in range(n):
        x = rng.normal(size=(20, len(FEATURE_NAMES)))
        x[:, col] = rng.uniform(0, 1, 20)
        X.append(x)
        iou.append(np.clip(x[:, col] + rng.normal(0, 0.05, 20), 0, 1))
    return X, iou


def test_fit_save_load_and_score(tmp_path):
    rng = np.random.default_rng(0)
    X, iou = _toy_images(rng)
    model = fit_scorer(X, iou, seeds=(0,), rounds=40)
    model["min_score"] = 0.25
    path = tmp_path / "m.json.gz"
    CandidateScorer.save(model, path)
    scorer = CandidateScorer(path)
    assert scorer.min_score == 0.25
    Xt, iout = _toy_images(np.random.default_rng(1), n=20)
    hits = 0
    for x, y in zip(Xt, iout):
        rank, prob = scorer.predict(x)
        best = int(np.argmax(prob * np.exp(rank - rank.max())))
        hits += int(y[best] >= y.max() - 0.1)  # the chosen box is (nearly) the best one
        # Probabilities are calibrated enough to separate good from bad boxes.
        assert prob[y > 0.8].mean() > 0.5 > prob[y < 0.3].mean()
    assert hits >= 10, hits  # chance: about 2 of 20
    same = CandidateScorer(model).predict(Xt[0])
    np.testing.assert_allclose(same[1], scorer.predict(Xt[0])[1])


def test_model_fitted_on_other_features_is_refused():
    from dsodetect.models import model_path
    model = CandidateScorer.load(model_path(MODEL_NAME))
    model["features"] = model["features"][:-1]
    with pytest.raises(ValueError, match="refit"):
        CandidateScorer(model)


def test_shipped_model_describes_itself():
    scorer = CandidateScorer()
    assert 0.0 < scorer.min_score < 1.0
    assert "real-train" in scorer.info["trained_on"]
    assert set(scorer.info["cv"]) == {"P", "R", "F1"}
