"""FastAPI app serving one session folder, read-only.

Only these are reachable: the page itself (``/``, ``/static/...`` from the
package), the session snapshot (``/api/session``), its live updates as
server-sent events (``/api/events``) and the images and results inside the
session folder (``/files/...``, by suffix, never outside the folder, never
hidden files or the SQLite store). Nothing can be uploaded: requests with a
body are refused before they are read.

Hardening (issue 13): a requested path is resolved (symlinks followed) and
refused unless the real file lies inside the folder with no hidden component
on either side of the link; long or odd paths are a 404, never a 500; the
server (:func:`server_config`) closes connections whose request headers do not
arrive within :data:`HEADER_TIMEOUT` s and idle keep-alive connections after
:data:`KEEP_ALIVE_TIMEOUT` s, caps connections at :data:`MAX_CONNECTIONS` and
live event streams at :data:`MAX_EVENT_STREAMS` (503 beyond); the snapshot is
re-served as strict JSON (``NaN``/``Infinity`` become ``null``).
"""


import asyncio
import json
import threading
import time
from pathlib import Path

__all__ = ["create_app", "safe_path", "start_in_thread", "server_config", "SERVED_SUFFIXES", "MAX_BODY",
           "MAX_EVENT_STREAMS", "MAX_CONNECTIONS", "HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "MAX_PATH"]

STATIC = Path(__file__).parent / "static"

#: What /files/ serves from the session folder.
SERVED_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                   ".json": "application/json", ".jsonl": "application/x-ndjson", ".txt": "text/plain"}

#: Largest request body accepted (the app takes no uploads; this stops a client streaming one).
MAX_BODY = 16 * 1024

#: Longest ``/files/`` path looked at (characters; a path component is at most 255).
MAX_PATH = 1024

#: Live event streams (``/api/events``) served at once; more get a 503 with Retry-After.
MAX_EVENT_STREAMS = 32

#: Connections served at once (uvicorn answers 503 beyond).
MAX_CONNECTIONS = 128

#: Seconds a client has to send its request headers once connected (or after a response).
HEADER_TIMEOUT = 10.0

#: Seconds an idle keep-alive connection is kept open.
KEEP_ALIVE_TIMEOUT = 5

_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def safe_path(root: Path, requested: str) -> "Path | None":
    """``root / requested`` if it is a servable file inside ``root``, else None.

    Refuses empty, overlong (:data:`MAX_PATH`) or control-character paths,
    absolute paths, ``..``, hidden components, symlinks leading out of
    ``root`` or to a hidden file or folder inside it, anything that is not a
    regular file, and suffixes not in :data:`SERVED_SUFFIXES`. Never raises.
    """
    try:
        root = Path(root).resolve()
        if (not requested or len(requested) > MAX_PATH or "\\" in requested
                or any(ord(c) < 32 or ord(c) == 127 for c in requested)):
            return None
        rel = Path(requested)
        if rel.is_absolute() or any(part in ("..", "") or part.startswith(".") or len(part) > 255
                                    for part in rel.parts):
            return None
        path = (root / rel).resolve(strict=True)
        if not path.is_relative_to(root):
            return None
        # The real file, after the links, must not be hidden either (a link "a.json" -> ".secret.json").
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            return None
        if not path.is_file() or path.suffix.lower() not in SERVED_SUFFIXES:
            return None
        return path
    except (OSError, ValueError, RuntimeError):  # name too long, symlink loop, NUL, undecodable
        return None


def _strict_text(text: str) -> str:
    """JSON text re-serialised strictly: ``NaN``/``Infinity`` read as null, never written."""
    from ..io.jsontext import strict_json

    return strict_json(json.loads(text, parse_constant=lambda name: None))


class _Counted:
    """An async iterator counted in ``counter["open"]`` from creation until it ends, fails or is dropped.

    A plain ``try/finally`` in the generator would miss a stream whose client
    left before its first chunk (the generator never starts, its ``finally``
    never runs) and leak a slot of :data:`MAX_EVENT_STREAMS`.
    """

    def __init__(self, gen, counter: dict):
        self.gen, self.counter, self.open = gen, counter, True
        counter["open"] += 1  # the event loop is single-threaded: no lock needed

    def release(self) -> None:
        if self.open:
            self.open = False
            self.counter["open"] -= 1

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.gen.__anext__()
        except BaseException:
            self.release()
            raise

    async def aclose(self):
        self.release()
        await self.gen.aclose()

    def __del__(self):
        self.release()


def _empty_state() -> dict:
    return {"version": 0, "updated": None, "target": {}, "methods": [], "stacks": [], "tracks": [], "events": []}


def create_app(session_dir, *, poll_interval: float = 0.2, max_streams: int = MAX_EVENT_STREAMS):
    """Build the app for one session folder.

    Parameters
    ----------
    session_dir : path-like
        The folder written by ``dsodetect watch`` (``session.json`` inside).
    poll_interval : float
        Seconds between checks of ``session.json`` for the live stream.
    max_streams : int
        Live event streams served at once; more get a 503 with ``Retry-After``.
    """
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, Response, StreamingResponse

    root = Path(session_dir).resolve()
    snapshot = root / "session.json"
    app = FastAPI(title="dsodetect live", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        length = request.headers.get("content-length")
        if request.headers.get("transfer-encoding", "").lower() == "chunked" or (
                length and (not length.isdigit() or int(length) > MAX_BODY)):
            return Response("request body too large\n", status_code=413, media_type="text/plain")
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    empty = json.dumps(_empty_state())
    # The snapshot last read, shared by every client so that each change is
    # read and serialised once, not once per open page: (identity, mtime_ns,
    # JSON text). Identity adds inode and size to the mtime, since a rewrite
    # within the file system's timestamp granularity keeps the mtime. A tuple
    # swapped whole: the threadpool (/api/session) and the event loop
    # (/api/events) both use it.
    cached = (None, 0, empty)

    def read_state() -> tuple[int, str]:
        """``(mtime_ns, JSON text)`` of the snapshot (``(0, empty session)`` when unreadable)."""
        nonlocal cached
        try:
            st = snapshot.stat()
            entry = cached
            ident = (st.st_mtime_ns, st.st_ino, st.st_size)
            if ident != entry[0]:
                # Read after the stat: the text is never older than its stamp.
                entry = cached = (ident, st.st_mtime_ns, _strict_text(snapshot.read_text()))
            return entry[1], entry[2]
        except (OSError, ValueError):  # not there yet, or being replaced
            return 0, empty

    def static_file(name: str, media: str):
        path = STATIC / name
        return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})

    @app.get("/")
    def index():
        return static_file("index.html", "text/html; charset=utf-8")

    @app.get("/static/{name}")
    def static(name: str):
        media = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".svg": "image/svg+xml", ".png": "image/png"}.get(Path(name).suffix)
        try:
            found = (media is not None and len(name) <= 255 and "/" not in name and "\\" not in name
                     and not name.startswith(".") and (STATIC / name).is_file())
        except (OSError, ValueError):
            found = False
        if not found:
            raise HTTPException(404)
        return static_file(name, media)

    @app.get("/api/session")
    def session():
        return Response(read_state()[1], media_type="application/json", headers={"Cache-Control": "no-store"})

    streams = {"open": 0}

    @app.get("/api/events")
    async def events(request: Request):
        if streams["open"] >= max_streams:
            return Response("too many live connections; retry later\n", status_code=503,
                            media_type="text/plain", headers={"Retry-After": "10"})

        async def stream():
            last = None
            idle = 0.0
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    stamp = snapshot.stat().st_mtime_ns
                except OSError:
                    stamp = 0
                if stamp != last:
                    last, text = read_state()
                    yield f"event: session\ndata: {text}\n\n"
                    idle = 0.0
                elif idle >= 15:
                    yield ": keep-alive\n\n"  # keeps phones' and proxies' connections open
                    idle = 0.0
                await asyncio.sleep(poll_interval)
                idle += poll_interval

        return StreamingResponse(_Counted(stream(), streams), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/files/{requested:path}")
    def files(requested: str):
        path = safe_path(root, requested)
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=SERVED_SUFFIXES[path.suffix.lower()],
                            headers={"Cache-Control": "no-cache"})

    return app


def _timed_protocol(header_timeout: float):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete in time.

    uvicorn times out idle keep-alive connections but not a client that
    connects and then sends its headers a byte a minute (slowloris): this
    arms a timer whenever the server waits for a request's headers.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _header_timer = None

        def _arm(self):
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self):
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def data_received(self, data):
            super().data_received(data)
            if self.transport.is_closing():
                self._disarm()
            elif self.conn.their_state is h11.IDLE:
                self._arm()  # headers still incomplete: the clock keeps running
            else:
                self._disarm()

        def on_response_complete(self):
            super().on_response_complete()  # arms uvicorn's keep-alive timeout

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

    return TimedH11Protocol


def server_config(app, *, host: str = "127.0.0.1", port: int = 8765, header_timeout: float = HEADER_TIMEOUT,
                  keep_alive: int = KEEP_ALIVE_TIMEOUT, max_connections: int = MAX_CONNECTIONS, **kwargs):
    """A ``uvicorn.Config`` with the timeouts and limits above (``dsodetect serve`` and ``watch --serve``)."""
    import uvicorn

    options = dict(log_level="warning", timeout_graceful_shutdown=1, http=_timed_protocol(header_timeout),
                   timeout_keep_alive=keep_alive, limit_concurrency=max_connections,
                   h11_max_incomplete_event_size=16 * 1024)
    options.update(kwargs)
    return uvicorn.Config(app, host=host, port=port, **options)


def start_in_thread(session_dir, *, host: str = "127.0.0.1", port: int = 8765, timeout: float = 10.0,
                    **config):
    """Run the server in a daemon thread; returns the ``uvicorn.Server`` once it listens.

    ``port=0`` picks a free port: read it back from ``server.port``. Set
    ``server.should_exit = True`` to stop it. ``config`` goes to
    :func:`server_config` (``header_timeout``, ``keep_alive``, ...).
    """
    import uvicorn

    server = uvicorn.Server(server_config(create_app(session_dir), host=host, port=port, lifespan="off", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    t_end = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > t_end:
            raise OSError(f"could not start the web server on {host}:{port}")
        time.sleep(0.02)
    server.port = server.servers[0].sockets[0].getsockname()[1]
    server.thread = thread
    return server
