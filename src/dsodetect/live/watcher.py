"""Feed complete new stacks from a folder to a :class:`~dsodetect.live.session.LiveSession`.

Uses watchdog's native observer (inotify on Linux, FSEvents on macOS,
ReadDirectoryChangesW on Windows), or its polling observer for network shares
(SMB/NFS mounts deliver no change events). Either way the folder is also
rescanned every few seconds and once at start, which is what makes a restart
pick up the files that arrived while the watcher was down.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .completion import Settler, is_candidate

__all__ = ["FolderWatcher"]


class FolderWatcher:
    """Watch ``folder`` and call ``on_file(path)`` once per complete new image.

    Parameters
    ----------
    folder : path-like
    on_file : callable
        Called with each complete image path, oldest first.
    is_done : callable, optional
        ``is_done(path) -> bool``: already processed (skipped on rescans).
    poll : bool
        Use the polling observer (network shares).
    interval : float
        Seconds between checks of pending files.
    settle : float
        Seconds of unchanged size/mtime that make a file complete.
    rescan : float
        Seconds between full folder scans (the safety net under events).
    recursive : bool
        Watch sub-folders too.
    exclude : list of path-like
        Folders to ignore (the session folder when it lies inside ``folder``).
    """

    def __init__(self, folder, on_file, *, is_done=None, poll: bool = False, interval: float = 0.2,
                 settle: float = 1.0, rescan: float = 5.0, recursive: bool = False, exclude=()):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{folder}: not a folder")
        self.on_file = on_file
        self.is_done = is_done or (lambda p: False)
        self.poll = poll
        self.interval = interval
        self.rescan_every = rescan
        self.recursive = recursive
        self.exclude = [Path(e).resolve() for e in exclude]
        self.settler = Settler(settle)
        self._lock = threading.Lock()
        self._observer = None

    # ---------------------------------------------------------------- events
    def _wanted(self, path: Path) -> bool:
        if not is_candidate(path):
            return False
        resolved = path.resolve()  # a filesystem walk per call: once per event
        try:
            rel = resolved.relative_to(self.folder)
        except ValueError:
            return False
        if not self.recursive and len(rel.parts) != 1:
            return False
        return not any(resolved.is_relative_to(e) for e in self.exclude)

    def _note(self, path, complete: bool = False) -> None:
        path = Path(path)
        if self._wanted(path):
            with self._lock:
                self.settler.touch(path, complete=complete)

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_created(self, event):
                if not event.is_directory:
                    watcher._note(event.src_path)

            def on_modified(self, event):
                if not event.is_directory:
                    watcher._note(event.src_path)

            def on_closed(self, event):  # inotify IN_CLOSE_WRITE: the writer is done
                if not event.is_directory:
                    watcher._note(event.src_path, complete=True)

            def on_moved(self, event):  # atomic rename into place: complete
                if not event.is_directory:
                    watcher._note(event.dest_path, complete=True)

        self._observer = (PollingObserver(timeout=1.0) if self.poll else Observer())
        self._observer.schedule(Handler(), str(self.folder), recursive=self.recursive)
        self._observer.start()

    def scan(self) -> int:
        """Queue every unprocessed image in the folder; returns how many were queued."""
        pattern = "**/*" if self.recursive else "*"
        n = 0
        for p in sorted(self.folder.glob(pattern)):
            if p.is_file() and self._wanted(p) and p not in self.settler and not self.is_done(p):
                with self._lock:
                    self.settler.touch(p)
                n += 1
        return n

    # ------------------------------------------------------------------ loop
    def run(self, *, stop: threading.Event, timeout: float | None = None) -> None:
        """Watch until ``stop`` is set, ``timeout`` seconds pass or Ctrl-C."""
        self._start_observer()
        t_end = None if timeout is None else time.monotonic() + timeout
        next_scan = 0.0
        try:
            while not stop.is_set() and (t_end is None or time.monotonic() < t_end):
                if time.monotonic() >= next_scan:
                    self.scan()
                    next_scan = time.monotonic() + self.rescan_every
                with self._lock:
                    ready = self.settler.ready()
                for path in ready:
                    if stop.is_set():
                        break
                    if not self.is_done(path):
                        self.on_file(path)
                stop.wait(self.interval)
        finally:
            self._observer.stop()
            self._observer.join(timeout=5)
