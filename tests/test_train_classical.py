"""The classical scorer's training path end to end, tiny: fit on a few rendered skies, install, detect with it."""

from __future__ import annotations

import json

import numpy as np

from conftest import render_sky


def _sky_folder(root, n=10):
    import cv2

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        img, (x0, y0, x1, y1) = render_sky(h=320, w=320, seed=i)
        h, w = img.shape[:2]
        rgb = np.clip(img * 4, 0, 1)  # an app-like stretch
        cv2.imwrite(str(root / "images" / f"{100 + i}_0.jpg"), (rgb[:, :, ::-1] * 255).astype(np.uint8))
        (root / "labels" / f"{100 + i}_0.txt").write_text(
            f"0 {(x0 + x1) / 2 / w:.5f} {(y0 + y1) / 2 / h:.5f} {(x1 - x0) / w:.5f} {(y1 - y0) / h:.5f}\n")


def test_train_classical_installs_a_model_the_detector_uses(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dsodetect.cli import app
    from dsodetect.detectors.classical import ClassicalDetector
    from dsodetect.detectors.classical.scorer import CandidateScorer
    from dsodetect.io import read_image
    from dsodetect.models import model_path

    monkeypatch.setenv("CLASSICAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("dsodetect.train.classical.CACHE", tmp_path / "cache")
    _sky_folder(tmp_path / "data")
    res = CliRunner().invoke(app, ["train", "classical", "--data", str(tmp_path / "data"), "--jobs", "1", "--seeds", "1",
                                   "--out", str(tmp_path / "models")])
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "models" / "classical-scorer.card.json").read_text())
    assert card["method"] == "classical" and "F1" in card["scores"]["cv_5fold_by_source"]
    monkeypatch.setenv("DSODETECT_MODELS", str(tmp_path / "models"))
    assert model_path("classical-scorer").parent == tmp_path / "models", "the user's model comes first"
    det = ClassicalDetector()
    assert isinstance(det.scorer, CandidateScorer)
    out = det.detect(read_image(tmp_path / "data" / "images" / "100_0.jpg"))
    assert all(0 <= d.score <= 1 for d in out.detections)
