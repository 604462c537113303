"""bf16 autocast only where the CPU computes in bfloat16 natively: elsewhere PyTorch emulates it, ~10x slower."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pytest

torch = pytest.importorskip("torch")

from dsodetect.train import EmulatedBf16Warning, checkpoints  # noqa: E402


@pytest.fixture
def cpu(monkeypatch):
    """Set whether the CPU has native bfloat16: ``cpu(True)``."""
    return lambda native: monkeypatch.setattr(checkpoints, "native_bf16", lambda: native)


def test_default_follows_the_cpu(cpu):
    cpu(True)
    assert checkpoints.resolve_bf16(None) is True
    assert checkpoints.resolve_bf16(None, default=False) is False  # a network bf16 does not speed up
    cpu(False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checkpoints.resolve_bf16(None) is False
        assert checkpoints.resolve_bf16(False) is False


def test_asking_for_emulated_bf16_warns_and_is_obeyed(cpu):
    cpu(False)
    with pytest.warns(EmulatedBf16Warning, match="--fp32"):
        assert checkpoints.resolve_bf16(True) is True
    cpu(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checkpoints.resolve_bf16(True) is True


def test_native_bf16_reads_torch_cpu_probes(monkeypatch):
    checkpoints.native_bf16.cache_clear()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert checkpoints.native_bf16() is False
    checkpoints.native_bf16.cache_clear()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert checkpoints.native_bf16() is True
    checkpoints.native_bf16.cache_clear()  # the real CPU's answer for the tests after this one


def test_yolo_default_recipe_trains_fp32_on_a_cpu_without_bf16(tmp_path, cpu, monkeypatch):
    pytest.importorskip("ultralytics")
    from test_train_yolo import _sky_dataset

    from dsodetect.train import yolo

    assert yolo.PRESETS["default"].bf16 is None, "the shipped recipe decides by the CPU"
    monkeypatch.setattr(yolo, "_bf16_trainer", lambda: pytest.fail("bf16 trainer on a CPU without bfloat16"))
    cpu(False)
    _sky_dataset(tmp_path / "data", n=4)
    yaml_path = yolo.prepare_data(tmp_path / "data", tmp_path / "split", val_fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmulatedBf16Warning)
        yolo.train_yolo(yaml_path, out=tmp_path / "runs", name="r",
                        recipe=dataclasses.replace(yolo.PRESETS["tiny"], bf16=None))
    assert json.loads((tmp_path / "runs" / "r" / "recipe.json").read_text())["bf16"] is False
    card = yolo.yolo_card("m", "m.onnx", yolo.PRESETS["default"], tmp_path / "runs" / "r", data="d", wall_time="1 s")
    assert card.recipe["bf16"] is False, "the card says what the run used, not 'auto'"
