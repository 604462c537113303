"""Name what was detected: astrometric solution (header WCS or offline astrometry.net) and the OpenNGC catalog.

Main entry points:

- :func:`solve` -> :class:`Solution` (WCS, seconds, residual, source)
- :func:`identify` -> :class:`IdentifyReport`; also writes ``names``,
  ``catalog``, ``uncatalogued`` and ``description`` into each
  ``Detection.extras`` so the usual PNG/JSON outputs show them
- :class:`IdentifyDetector` wraps any detector so that ``dsodetect detect``
  output carries names
"""

from .catalog import CatalogObject, cone_search, lookup
from .describe import describe
from .hints import Hint, hint_from_header
from .match import IdentifyReport, ObjectMatch, expected_rule, identify, match_score
from .solver import INSTALL_HELP, Solution, astrometry_status, extract_stars, solve, solve_xy
from .wrap import IdentifyDetector

__all__ = ["CatalogObject", "cone_search", "lookup", "describe", "Hint", "hint_from_header",
           "IdentifyReport", "ObjectMatch", "expected_rule", "identify", "match_score", "INSTALL_HELP",
           "Solution", "astrometry_status", "extract_stars", "solve", "solve_xy", "IdentifyDetector",
           "write_identify_json"]


def write_identify_json(report, path):
    """Write ``report.to_dict()`` as JSON; returns the path."""
    import json
    from pathlib import Path

    path = Path(path)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return path
