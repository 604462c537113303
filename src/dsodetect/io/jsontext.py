"""Strict JSON text: what browsers, ``jq`` and other tools read without surprises."""

from __future__ import annotations

import json
import math

__all__ = ["finite_json", "strict_json"]


def finite_json(value):
    """``value`` with every NaN or infinite float (nested in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def strict_json(value, **kwargs) -> str:
    """Strict JSON text (``allow_nan=False``): non-finite floats are written as ``null``.

    Python's ``json`` writes ``NaN`` and ``Infinity``, which ``JSON.parse``
    rejects (a page that reads such a file stays blank).

    Examples
    --------
    >>> strict_json({"snr": float("nan"), "n": [1.5, float("inf")]})
    '{"snr": null, "n": [1.5, null]}'
    """
    return json.dumps(finite_json(value), allow_nan=False, **kwargs)
