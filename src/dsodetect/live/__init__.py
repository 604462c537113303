"""Live electronically-assisted-astronomy session: watch a folder, detect, track, notify.

The pieces, each usable alone:

- :mod:`.integration` -- integration time of a stack (FITS headers, file names, file times).
- :mod:`.snr` -- aperture signal-to-noise and its ``sqrt(t)`` growth.
- :mod:`.tracking` -- follow each object across successive stacks.
- :mod:`.completion` -- decide when a file being written is complete.
- :mod:`.store` -- the SQLite session store that makes a restart lose and repeat nothing.
- :mod:`.notify` -- console, desktop and webhook notifications.
- :mod:`.session` -- :class:`LiveSession`, which ties them together for one stack at a time.
- :mod:`.watcher` -- watchdog / polling loop that feeds complete files to the session.
- :mod:`.ftp` -- pull stacks from an FTP server (the Vespera exposes one).
- :mod:`.compare` -- what did more integration (or merging sessions) add?
"""

# Submodules load on first use (scikit-image's lazy_loader), so that `dsodetect --help`
# does not import everything; __init__.pyi lists the names for editors and type checkers.
import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
