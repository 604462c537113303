"""Decide when a file that is being written is complete.

Telescope apps and FTP servers write stacks in place or under a temporary
name that is then renamed. A renamed-in file, or one whose writer closed it,
is complete at once; any other is complete when its size and modification
time have not changed for ``settle`` seconds (which also covers network
shares, where no close event is seen).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..io import IMAGE_SUFFIXES

__all__ = ["Settler", "is_candidate"]

#: Names that writers use for files still in progress.
TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart", ".download", "~")


def is_candidate(path) -> bool:
    """True for image files, False for hidden and temporary files."""
    name = Path(path).name
    lower = name.lower()
    if name.startswith((".", "~$")) or lower.endswith(TEMP_SUFFIXES):
        return False
    return lower.endswith(IMAGE_SUFFIXES)


class Settler:
    """Track candidate files until each is complete.

    Parameters
    ----------
    settle : float
        Seconds a file's size and mtime must stay unchanged.
    clock : callable
        Time source (tests pass a fake one).
    """

    def __init__(self, settle: float = 1.0, clock=time.monotonic):
        self.settle = settle
        self.clock = clock
        self._state: dict[Path, tuple[int, int, float, bool]] = {}

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, path) -> bool:
        return Path(path) in self._state

    def touch(self, path, *, complete: bool = False) -> None:
        """Note that ``path`` changed; ``complete`` when it was just closed or renamed in.

        The latest event decides: a write after a close makes the file
        incomplete again until it settles or is closed again.
        """
        path = Path(path)
        old = self._state.get(path)
        self._state[path] = (old[0], old[1], old[2], complete) if old else (-1, -1, self.clock(), complete)

    def ready(self) -> list[Path]:
        """Files complete now (removed from the watch list); vanished ones are dropped."""
        now = self.clock()
        out = []
        for path, (size, mtime, since, complete) in list(self._state.items()):
            try:
                st = path.stat()
            except OSError:
                del self._state[path]
                continue
            if st.st_size == 0:  # created but nothing written yet
                self._state[path] = (0, st.st_mtime_ns, now, False)
                continue
            if complete:  # the writer closed it or renamed it into place
                del self._state[path]
                out.append(path)
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                self._state[path] = (st.st_size, st.st_mtime_ns, now, False)
                continue
            if now - since >= self.settle:
                del self._state[path]
                out.append(path)
        return sorted(out, key=lambda p: (_mtime(p), p.name))


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0
