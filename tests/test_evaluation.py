"""The paper's evaluation protocol and the `evaluate` command."""

import json

import numpy as np
import pytest

from dsodetect import Detection
from dsodetect.evaluation import evaluate, evaluate_folders, match_image, threshold_sweep


def test_greedy_matching_is_one_to_one_by_score():
    truth = np.array([[0, 0, 10, 10]])
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 9]])  # both match; only the best-scored counts
    m = match_image(pred, np.array([0.2, 0.9]), truth)
    assert m.tp.tolist() == [True, False] and m.scores.tolist() == [0.9, 0.2]
    assert m.counts() == (1, 1, 0)
    assert m.counts(0.5) == (1, 0, 0)


def test_iou_threshold_is_inclusive_and_enforced():
    truth = np.array([[0, 0, 10, 10]])
    half = np.array([[0, 0, 10, 5]])  # IoU exactly 0.5
    assert match_image(half, [1.0], truth, 0.5).counts() == (1, 0, 0)
    assert match_image(half, [1.0], truth, 0.51).counts() == (0, 1, 1)


def test_pooled_prf_and_sweep():
    truth = {"a": [Detection(0, 0, 10, 10)], "b": [Detection(0, 0, 10, 10)], "c": []}
    pred = {"a": [Detection(0, 0, 10, 10, 0.9)],
            "b": [Detection(50, 50, 60, 60, 0.8), Detection(0, 0, 10, 10, 0.3)],
            "c": [Detection(0, 0, 5, 5, 0.1)]}
    r = evaluate(pred, truth)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 2, 0)
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == 1.0
    assert r["f1"] == pytest.approx(2 / 3)
    # Thresholds 0.9 -> P1 R.5 F.667; 0.8 -> P.5 R.5; 0.3 -> P 2/3 R1 F.8
    assert r["best_f1"] == pytest.approx(0.8) and r["best_threshold"] == pytest.approx(0.3)
    assert 0 < r["map50"] <= 1
    at = evaluate(pred, truth, min_score=0.85)
    assert (at["tp"], at["fp"], at["fn"]) == (1, 0, 1)


def test_sweep_treats_tied_scores_together():
    m = match_image(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), [0.5, 0.5], np.array([[0, 0, 10, 10]]))
    s = threshold_sweep([m])
    assert s["thresholds"].tolist() == [0.5] and s["precision"].tolist() == [0.5]


def test_perfect_predictions_give_map_one():
    truth = {str(i): [Detection(i, i, i + 20, i + 30)] for i in range(5)}
    pred = {k: [Detection(d.x0, d.y0, d.x1, d.y1, 0.7) for d in v] for k, v in truth.items()}
    r = evaluate(pred, truth)
    assert r["f1"] == 1.0 and r["map50"] == pytest.approx(1.0) and r["map50_95"] == pytest.approx(1.0)


def test_evaluate_folders_writes_reports(tmp_path):
    truth, pred = tmp_path / "truth" / "labels", tmp_path / "pred"
    truth.mkdir(parents=True)
    pred.mkdir()
    (truth / "x.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (truth / "y.txt").write_text("0 0.25 0.25 0.1 0.1\n0 0.75 0.75 0.1 0.1\n")
    (truth / "z.txt").write_text("0 0.5 0.5 0.5 0.5\n")  # no prediction file -> all missed
    (pred / "x.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    (pred / "y.txt").write_text("0 0.25 0.25 0.1 0.1 0.4\n0 0.1 0.9 0.05 0.05 0.6\n")
    out = tmp_path / "report"
    r = evaluate_folders(pred, tmp_path / "truth", out_dir=out)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 2)
    assert r["missing_predictions"] == ["z"]
    rows = (out / "per_image.csv").read_text().splitlines()
    assert rows[0].startswith("image,n_truth,n_pred,tp,fp,fn") and len(rows) == 4
    assert json.loads((out / "report.json").read_text())["tp"] == 2
    assert (out / "pr_curve.png").stat().st_size > 1000


def test_malformed_prediction_line_is_reported(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "p").mkdir()
    (tmp_path / "t" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "p" / "a.txt").write_text("0 0.5 oops\n")
    with pytest.raises(ValueError, match=r"a.txt:1"):
        evaluate_folders(tmp_path / "p", tmp_path / "t")
