"""Name what was detected: astrometric solution (header WCS or offline astrometry.net) and the OpenNGC catalog.

Main entry points:

- :func:`solve` -> :class:`Solution` (WCS, seconds, residual, source)
- :func:`identify` -> :class:`IdentifyReport`; also writes ``names``,
  ``catalog``, ``uncatalogued`` and ``description`` into each
  ``Detection.extras`` so the usual PNG/JSON outputs show them
- :class:`IdentifyDetector` wraps any detector so that ``dsodetect detect``
  output carries names
"""

# Submodules load on first use (scikit-image's lazy_loader), so that
# `dsodetect --help` does not import everything.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "catalog": ["CatalogObject", "cone_search", "lookup"],
    "describe": ["describe"],
    "hints": ["Hint", "hint_from_header"],
    "match": ["IdentifyReport", "ObjectMatch", "expected_rule", "identify", "match_score"],
    "solver": ["INSTALL_HELP", "Solution", "astrometry_status", "extract_stars", "solve", "solve_xy"],
    "wrap": ["IdentifyDetector"],
})
__all__ += ["write_identify_json"]


def write_identify_json(report, path):
    """Write ``report.to_dict()`` as JSON; returns the path."""
    import json
    from pathlib import Path

    path = Path(path)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return path
