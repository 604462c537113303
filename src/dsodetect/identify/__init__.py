"""Name what was detected: astrometric solution (header WCS or offline astrometry.net) and the OpenNGC catalog.

Main entry points:

- :func:`solve` -> :class:`Solution` (WCS, seconds, residual, source)
- :func:`identify` -> :class:`IdentifyReport`; also writes ``names``,
  ``catalog``, ``uncatalogued`` and ``description`` into each
  ``Detection.extras`` so the usual PNG/JSON outputs show them. It is the
  pipeline's identify stage (``process(..., identifier=identify)``); the
  pipeline's writer stage writes the report as ``<stem>.identify.json``.
"""

# Submodules load on first use (scikit-image's lazy_loader), so that `dsodetect --help`
# does not import everything; __init__.pyi lists the names for editors and type checkers.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
