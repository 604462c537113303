"""Training of the learned methods and of the classical scorer (needs the ``train`` extra for torch)."""

from .checkpoints import EmulatedBf16Warning, native_bf16, resolve_bf16

__all__ = ["native_bf16", "resolve_bf16", "EmulatedBf16Warning"]
