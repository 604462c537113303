"""Names of this package for editors and type checkers; the package loads them lazily (lazy_loader)."""

from .server import (create_app as create_app, safe_path as safe_path, start_in_thread as start_in_thread)
