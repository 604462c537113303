"""Package structure: lazily loaded subpackages resolve every public name."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY = ["dsodetect.synth", "dsodetect.dataset", "dsodetect.identify", "dsodetect.live", "dsodetect.web"]


@pytest.mark.parametrize("name", LAZY)
def test_every_public_name_resolves(name):
    mod = importlib.import_module(name)
    assert mod.__all__
    missing = [n for n in mod.__all__ if getattr(mod, n, None) is None]
    assert not missing, f"{name}: {missing}"


def test_cli_import_leaves_heavy_modules_unloaded():
    # The command-line entry point registers every command without loading
    # the simulator, the web server or the solver glue (fast `--help`).
    code = ("import sys, dsodetect.cli; "
            "print(' '.join(m for m in ('dsodetect.synth.render', 'dsodetect.web.server', "
            "'dsodetect.identify.solver', 'dsodetect.live.session', 'fastapi', 'lightgbm') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_inference_imports_no_training_dependency(tmp_path):
    # Every method's inference runs on the default install: detecting (classical, and the YOLO
    # method's module) loads neither torch nor ultralytics nor any other training package.
    code = ("import sys, numpy as np\n"
            "from dsodetect import get_detector\n"
            "from dsodetect.io import Image\n"
            "from dsodetect.pipeline import process\n"
            "import dsodetect.detectors.yolo, dsodetect.models, dsodetect.train.commands\n"
            "img = Image(np.random.default_rng(0).random((200, 300, 3), dtype=np.float32), stretched=True)\n"
            "process(img, get_detector('classical'))\n"
            "print(' '.join(m for m in ('torch', 'torchvision', 'ultralytics', 'onnx', 'saliency', "
            "'albumentations') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
