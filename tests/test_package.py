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


def _imported_packages(path, src):
    """The top-level ``dsodetect`` sub-packages a module imports (relative or absolute imports, at any depth)."""
    import ast

    rel = path.relative_to(src).parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = list(rel[:-1])[:len(rel) - node.level] + (node.module.split(".") if node.module else [])
            found.add(parts[0] if parts else node.names[0].name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dsodetect."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("dsodetect."))
    return found


def test_library_layers_do_not_import_the_applications():
    """io -> detectors -> postprocess -> identify -> outputs never reach up into train/, live/, web/ or the CLI."""
    from pathlib import Path

    import dsodetect

    src = Path(dsodetect.__file__).parent
    apps = {"train", "live", "web", "cli"}
    bad = []
    for path in sorted(src.rglob("*.py")):
        own = path.relative_to(src).parts[0].removesuffix(".py")
        if own in apps or own == "__init__":
            continue
        bad += [f"{path.relative_to(src)} imports {p}" for p in sorted(_imported_packages(path, src) & apps)]
    assert not bad, bad
