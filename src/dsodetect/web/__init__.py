"""The outreach page: a local web server showing a live session as it grows.

``create_app(session_dir)`` builds the FastAPI app; ``dsodetect serve`` runs
it. The page (``static/``) is plain HTML/JS/CSS shipped in the package, with
no CDN, so it works offline beside the telescope.
"""

# Submodules load on first use (scikit-image's lazy_loader), so that `dsodetect --help`
# does not import everything; __init__.pyi lists the names for editors and type checkers.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
