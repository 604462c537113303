"""What every torch training loop here shares: CPU bfloat16 autocast and atomic checkpoints."""

from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

from ..detection import DsodetectWarning

__all__ = ["cpu_autocast", "native_bf16", "resolve_bf16", "EmulatedBf16Warning", "save_checkpoint",
           "load_checkpoint"]


class EmulatedBf16Warning(DsodetectWarning):
    """bfloat16 autocast asked for on a CPU that has no bfloat16 arithmetic: PyTorch emulates it, many times slower."""


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (Intel AMX tiles or AVX512-BF16).

    Only there does CPU bf16 autocast speed training up (a YOLO11n step 1.5-2x). On an AVX2-only
    processor PyTorch emulates bfloat16 and a step is tens of times slower (``benchmarks/train_step.py``).
    """
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch's own CPU feature probes
    try:
        return any(getattr(torch.cpu, p)() for p in probes if hasattr(torch.cpu, p))
    except RuntimeError:  # a build without the probes' back end
        return False


def resolve_bf16(requested: bool | None, *, default: bool = True) -> bool:
    """The bf16 setting a CPU training run uses.

    Parameters
    ----------
    requested : bool or None
        The recipe's or the command line's choice; ``None`` for the default.
    default : bool
        Whether the network gains from bf16 where the CPU has it natively.

    Returns
    -------
    bool
        ``requested`` when given (with an :class:`EmulatedBf16Warning` if it is ``True`` on a CPU
        without native bfloat16), else ``default and native_bf16()``.
    """
    if requested is None:
        return default and native_bf16()
    if requested and not native_bf16():
        warnings.warn("bf16 autocast on a CPU without native bfloat16 (AMX or AVX512-BF16) is emulated and "
                      "many times slower than fp32; use --fp32", EmulatedBf16Warning, stacklevel=2)
    return bool(requested)


def cpu_autocast(enabled: bool):
    """``torch.autocast`` to bfloat16 on the CPU (AMX) when ``enabled``, else a no-op context."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def save_checkpoint(obj, path) -> None:
    """Save a checkpoint atomically: an interrupted save never spoils the last good one."""
    import torch

    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_checkpoint(path) -> dict:
    """A checkpoint written by :func:`save_checkpoint` (``FileNotFoundError`` naming it when absent)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nothing to resume")
    return torch.load(path, map_location="cpu", weights_only=False)
