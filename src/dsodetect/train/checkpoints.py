"""What every torch training loop here shares: CPU bfloat16 autocast and atomic checkpoints."""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["cpu_autocast", "save_checkpoint", "load_checkpoint"]


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
