"""Feed complete new stacks from a folder to a :class:`~dsodetect.live.session.LiveSession`.

Uses watchdog's native observer (inotify on Linux, FSEvents on macOS,
ReadDirectoryChangesW on Windows), or its polling observer for network shares
(SMB/NFS mounts deliver no change events). Either way the folder is also
rescanned every few seconds and once at start, which is what makes a restart
pick up the files that arrived while the watcher was down.

A file whose processing raises is one ``error:`` line naming it and the
reason; that version of the file (path, size, modification time) is then
never tried again in this run, and the failure is recorded through
``on_error`` (by default in the :class:`~dsodetect.live.store.SessionStore`
of the session whose ``is_done`` the watcher was given), so a restart does
not try it again either: no retry loop, no crash loop. A file that kills the
whole process (a crash in native code) cannot be caught: with a session store,
each attempt is noted durably before it starts, and a file on which the
watcher died :data:`MAX_CRASHES` times is recorded as failed instead of being
tried a third time. A single ``kill -9`` mid-file therefore still retries it.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from .completion import Settler, is_candidate

__all__ = ["FolderWatcher", "MAX_CRASHES"]

#: Times the watcher may die while processing one file before that file is given up.
MAX_CRASHES = 2


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
    on_error : callable, optional
        ``on_error(path, reason)`` when ``on_file`` raises, to record the
        failure durably. Default: when ``is_done`` is a bound method of an
        object with a ``store`` (:class:`~dsodetect.live.store.SessionStore`)
        and a ``key(path)`` method -- a :class:`~dsodetect.live.session.LiveSession`
        -- the failure is committed to that store as ``failed``, which its
        ``is_done`` then reports as done.
    """

    def __init__(self, folder, on_file, *, is_done=None, poll: bool = False, interval: float = 0.2,
                 settle: float = 1.0, rescan: float = 5.0, recursive: bool = False, exclude=(),
                 on_error=None):
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
        self._store = _session_store(is_done)
        self.on_error = on_error if on_error is not None else _store_recorder(self._store)
        #: ``{(path, size, mtime_ns): reason}`` of the file versions that failed in this run.
        self.failed: dict = {}
        #: File versions handed to ``on_file`` without error in this run.
        self.handled: set = set()

    # ---------------------------------------------------------------- failures
    def _done(self, path: Path) -> bool:
        """Processed (or recorded as failed) already: ``is_done``, or failed in this run."""
        version = _version(path)
        if version in self.failed or version in self.handled:
            return True
        try:
            return bool(self.is_done(path))
        except Exception:  # a store or file-system hiccup: let the file be tried
            return False

    def _failed(self, path: Path, exc: BaseException) -> None:
        from ..io.image import display_path

        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror + (f" ({display_path(exc.filename)})" if exc.filename else "")
        elif isinstance(exc, MemoryError):
            reason = "out of memory while processing"
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        self.failed[_version(path)] = reason
        print(f"error: {display_path(path)}: {reason} (not retried)", file=sys.stderr, flush=True)
        if self.on_error is not None:
            try:
                self.on_error(path, reason)
            except Exception as err:  # e.g. the store is on the full disk too: remembered in memory only
                print(f"warning: could not record the failure of {display_path(path)}: "
                      f"{' '.join(str(err).split())}", file=sys.stderr, flush=True)

    def _begin(self, path: Path):
        """Note the attempt in the store; the key, None without a store, False when given up."""
        if self._store is None:
            return None
        store, key_of = self._store
        try:
            key = key_of(path)
            crashes = store.begin_attempt(key, str(path)) - 1
        except Exception:  # the store is unusable: process without the guard
            return None
        if crashes >= MAX_CRASHES:
            self._failed(path, RuntimeError(f"the watcher died {crashes} times while processing this file "
                                            f"(a crash in a decoder or writer?)"))
            self._end(key)
            return False
        return key

    def _end(self, key) -> None:
        if key:
            try:
                self._store[0].end_attempt(key)
            except Exception:
                pass

    # ---------------------------------------------------------------- events
    def _wanted(self, path: Path) -> bool:
        if not is_candidate(path):
            return False
        try:
            resolved = path.resolve()  # a filesystem walk per call: once per event
        except (OSError, RuntimeError):  # a symlink loop, a vanished folder
            return False
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
            if p.is_file() and self._wanted(p) and p not in self.settler and not self._done(p):
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
                    if self._done(path):
                        continue
                    version = _version(path)
                    key = self._begin(path)
                    if key is False:
                        continue
                    try:
                        self.on_file(path)
                    except Exception as exc:  # MemoryError included; one file never stops the session
                        self._failed(path, exc)
                    else:
                        self.handled.add(version)
                    finally:
                        self._end(key)
                stop.wait(self.interval)
        finally:
            self._observer.stop()
            self._observer.join(timeout=5)


def _version(path: Path):
    """``(path, size, mtime_ns)``: a rewritten file is a new version, tried again."""
    try:
        st = Path(path).stat()
        return str(path), st.st_size, st.st_mtime_ns
    except OSError:
        return str(path), None, None


def _session_store(is_done):
    """``(store, key_of)`` of the session whose bound method ``is_done`` is, else None."""
    owner = getattr(is_done, "__self__", None)
    store, key_of = getattr(owner, "store", None), getattr(owner, "key", None)
    if store is None or not callable(key_of) or not all(
            hasattr(store, m) for m in ("commit_failure", "begin_attempt", "end_attempt")):
        return None
    return store, key_of


def _store_recorder(found):
    """``on_error`` committing the failure to the session store, or None without one."""
    if found is None:
        return None
    store, key_of = found

    def record(path, reason):
        store.commit_failure(key_of(path), str(path), reason)

    return record
