"""The outreach page: a local web server showing a live session as it grows.

``create_app(session_dir)`` builds the FastAPI app; ``dsodetect serve`` runs
it. The page (``static/``) is plain HTML/JS/CSS shipped in the package, with
no CDN, so it works offline beside the telescope.
"""

from .server import create_app, safe_path, start_in_thread

__all__ = ["create_app", "safe_path", "start_in_thread"]
