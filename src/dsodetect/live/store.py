"""The session store: one SQLite file that makes a live session restartable.

A stack is written to the store in one transaction together with the
notifications it raised, only after its outputs are on disk. A watcher killed
at any point (even ``kill -9``) therefore either committed a stack or did not:
on restart the uncommitted ones are processed again and the committed ones
are skipped, so nothing is lost and nothing is counted twice. Notifications
are marked sent after they go out; unsent ones are sent on restart.

Everything stored or written as JSON goes through :func:`strict_json`: NaN and
infinities become ``null``, so no file the browser reads can hold
``Infinity`` (which ``JSON.parse`` rejects, leaving the page blank).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from ..io.jsontext import finite_json, strict_json

__all__ = ["SessionStore", "file_key", "strict_json", "finite_json", "db_text"]


def db_text(text) -> str:
    """``text`` as SQLite can store it: a file name's undecodable bytes (lone surrogates) backslash-escaped.

    Names that are valid UTF-8 are unchanged; ``bad\\xff.fits`` (byte 0xff)
    is stored as the text ``bad\\xff.fits`` instead of making SQLite raise.
    """
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, path TEXT NOT NULL, count INTEGER NOT NULL,
                                     started REAL NOT NULL);
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
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, strict_json(value)))

    def setdefault_meta(self, key, value):
        self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, strict_json(value)))
        return self.get_meta(key)

    # ---------------------------------------------------------------- stacks
    def has(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM stacks WHERE key=?", (db_text(key),)).fetchone() is not None

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
                (db_text(key), db_text(path), status, finite_json(record.get("seconds")), record.get("seconds_source"), now,
                 strict_json(record)))
            stack_id = cur.lastrowid
            for ev in events:
                self.db.execute(
                    "INSERT OR IGNORE INTO events(key, kind, stack_id, title, message, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (db_text(ev["key"]), ev["kind"], stack_id, db_text(ev["title"]), db_text(ev["message"]),
                     now))
        return stack_id

    def commit_failure(self, key: str, path: str, reason: str, record: dict | None = None) -> bool:
        """Record that a file version failed, with the reason; it is then never tried again.

        Idempotent: returns False (and changes nothing) when the key is already
        stored, done or failed. Never raises for a file name SQLite cannot
        take as text, nor for a non-finite number in ``record``.
        """
        record = {"file": str(path), "name": Path(str(path)).name, **(record or {}),
                  "error": " ".join(str(reason).split())}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT OR IGNORE INTO stacks(key, path, status, seconds, seconds_source, processed_at, record) "
                "VALUES (?, ?, 'failed', NULL, NULL, ?, ?)",
                (db_text(key), db_text(path), time.time(), strict_json(record)))
        return cur.rowcount == 1

    def begin_attempt(self, key: str, path: str) -> int:
        """Note, durably, that processing of ``key`` starts; returns how many times it has started.

        The row is removed by :meth:`end_attempt` when processing returns or
        raises. One left behind means the process died on that file (a
        ``kill -9``, a power cut -- or a crash in native code the file
        triggers): the count says how often, so a file that kills the watcher
        every time can be given up instead of crash-looping it forever.
        """
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO attempts(key, path, count, started) VALUES (?, ?, 1, ?) "
                            "ON CONFLICT(key) DO UPDATE SET count = count + 1, started = excluded.started",
                            (db_text(key), db_text(path), time.time()))
            row = self.db.execute("SELECT count FROM attempts WHERE key=?", (db_text(key),)).fetchone()
        return int(row[0])

    def end_attempt(self, key: str) -> None:
        self.db.execute("DELETE FROM attempts WHERE key=?", (db_text(key),))

    def failures(self) -> dict:
        """``{key: reason}`` of the file versions recorded as failed."""
        return {r["key"]: r.get("error", "") for r in self.stacks(status="failed")}

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
        return self.db.execute("SELECT 1 FROM pulled WHERE remote=?", (db_text(remote),)).fetchone() is not None

    def add_pulled(self, remote: str, local: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO pulled(remote, local, at) VALUES (?, ?, ?)",
                        (db_text(remote), db_text(local), time.time()))
