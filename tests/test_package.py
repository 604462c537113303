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
