"""The session store: one SQLite file that makes a live session restartable.

A stack is written to the store in one transaction together with the
notifications it raised, only after its outputs are on disk. A watcher killed
at any point (even ``kill -9``) therefore either committed a stack or did not:
on restart the uncommitted ones are processed again and the committed ones
are skipped, so nothing is lost and nothing is counted twice. Notifications
are marked sent after they go out; unsent ones are sent on restart.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

__all__ = ["SessionStore", "file_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS stacks (
    id INTEGER PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL,
    seconds_source TEXT,
    processed_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    stack_id INTEGER,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    created REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pulled (remote TEXT PRIMARY KEY, local TEXT NOT NULL, at REAL NOT NULL);
"""


def file_key(path, root=None) -> str:
    """Identity of a file version: relative path, size and modification time (ns).

    A stack rewritten under the same name is a new version and is processed again.
    """
    path = Path(path)
    st = path.stat()
    rel = path.relative_to(root).as_posix() if root is not None else path.name
    return f"{rel}|{st.st_size}|{st.st_mtime_ns}"


class SessionStore:
    """SQLite store of processed stacks, events and pulled FTP files.

    Parameters
    ----------
    path : path-like
        The database file (created with its folder if missing).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One writer (the watcher); the web server only reads the JSON snapshot.
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def setdefault_meta(self, key, value):
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))
        return self.get_meta(key)

    # ---------------------------------------------------------------- stacks
    def has(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM stacks WHERE key=?", (key,)).fetchone() is not None

    def next_stack_id(self) -> int:
        return (self.db.execute("SELECT MAX(id) FROM stacks").fetchone()[0] or 0) + 1

    def commit_stack(self, key: str, path: str, status: str, record: dict,
                     events: list[dict] = ()) -> int:
        """Store one processed (or failed) stack and its events atomically.

        Returns the stack id. Raises ``sqlite3.IntegrityError`` if ``key`` is
        already stored (the caller checks :meth:`has` first).
        """
        now = time.time()
        with self.db:  # BEGIN ... COMMIT, rolled back on error
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO stacks(key, path, status, seconds, seconds_source, processed_at, record) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, path, status, record.get("seconds"), record.get("seconds_source"), now,
                 json.dumps(record)))
            stack_id = cur.lastrowid
            for ev in events:
                self.db.execute(
                    "INSERT OR IGNORE INTO events(key, kind, stack_id, title, message, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (ev["key"], ev["kind"], stack_id, ev["title"], ev["message"], now))
        return stack_id

    def stacks(self, status: str | None = "done") -> list[dict]:
        """Stored stack records in processing order (``id`` and ``key`` added)."""
        q = "SELECT id, key, status, processed_at, record FROM stacks"
        args = ()
        if status:
            q += " WHERE status=?"
            args = (status,)
        out = []
        for sid, key, st, at, rec in self.db.execute(q + " ORDER BY id", args):
            rec = json.loads(rec)
            rec.update(id=sid, key=key, status=st, processed_at=at)
            out.append(rec)
        return out

    def count(self, status: str | None = "done") -> int:
        if status:
            return self.db.execute("SELECT COUNT(*) FROM stacks WHERE status=?", (status,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM stacks").fetchone()[0]

    # ---------------------------------------------------------------- events
    def has_event(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM events WHERE key=?", (key,)).fetchone() is not None

    def events(self, unsent_only: bool = False) -> list[dict]:
        q = "SELECT id, key, kind, stack_id, title, message, created, sent FROM events"
        if unsent_only:
            q += " WHERE sent=0"
        cols = ("id", "key", "kind", "stack_id", "title", "message", "created", "sent")
        return [dict(zip(cols, row)) for row in self.db.execute(q + " ORDER BY id")]

    def mark_sent(self, event_id: int) -> None:
        self.db.execute("UPDATE events SET sent=1 WHERE id=?", (event_id,))

    # ------------------------------------------------------------------- ftp
    def pulled(self, remote: str) -> bool:
        return self.db.execute("SELECT 1 FROM pulled WHERE remote=?", (remote,)).fetchone() is not None

    def add_pulled(self, remote: str, local: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO pulled(remote, local, at) VALUES (?, ?, ?)",
                        (remote, local, time.time()))
