"""FastAPI app serving one session folder, read-only.

Only these are reachable: the page itself (``/``, ``/static/...`` from the
package), the session snapshot (``/api/session``), its live updates as
server-sent events (``/api/events``) and the images and results inside the
session folder (``/files/...``, by suffix, never outside the folder, never
hidden files or the SQLite store). Nothing can be uploaded: requests with a
body are refused before they are read.
"""


import asyncio
import json
import threading
import time
from pathlib import Path

__all__ = ["create_app", "safe_path", "start_in_thread", "SERVED_SUFFIXES", "MAX_BODY"]

STATIC = Path(__file__).parent / "static"

#: What /files/ serves from the session folder.
SERVED_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                   ".json": "application/json", ".jsonl": "application/x-ndjson", ".txt": "text/plain"}

#: Largest request body accepted (the app takes no uploads; this stops a client streaming one).
MAX_BODY = 16 * 1024

_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def safe_path(root: Path, requested: str) -> "Path | None":
    """``root / requested`` if it is a servable file inside ``root``, else None.

    Refuses absolute paths, ``..``, hidden components, symlinks leading out of
    ``root`` and suffixes not in :data:`SERVED_SUFFIXES`.
    """
    root = Path(root).resolve()
    if not requested or "\x00" in requested or "\\" in requested:
        return None
    rel = Path(requested)
    if rel.is_absolute() or any(part in ("..", "") or part.startswith(".") for part in rel.parts):
        return None
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    if path.suffix.lower() not in SERVED_SUFFIXES:
        return None
    return path


def _empty_state() -> dict:
    return {"version": 0, "updated": None, "target": {}, "methods": [], "stacks": [], "tracks": [], "events": []}


def create_app(session_dir, *, poll_interval: float = 0.2):
    """Build the app for one session folder.

    Parameters
    ----------
    session_dir : path-like
        The folder written by ``dsodetect watch`` (``session.json`` inside).
    poll_interval : float
        Seconds between checks of ``session.json`` for the live stream.
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
                entry = cached = (ident, st.st_mtime_ns, json.dumps(json.loads(snapshot.read_text())))
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
        if media is None or "/" in name or name.startswith(".") or not (STATIC / name).is_file():
            raise HTTPException(404)
        return static_file(name, media)

    @app.get("/api/session")
    def session():
        return Response(read_state()[1], media_type="application/json", headers={"Cache-Control": "no-store"})

    @app.get("/api/events")
    async def events(request: Request):
        async def stream():
            last = None
            idle = 0.0
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                stamp = snapshot.stat().st_mtime_ns if snapshot.exists() else 0
                if stamp != last:
                    last, text = read_state()
                    yield f"event: session\ndata: {text}\n\n"
                    idle = 0.0
                elif idle >= 15:
                    yield ": keep-alive\n\n"  # keeps phones' and proxies' connections open
                    idle = 0.0
                await asyncio.sleep(poll_interval)
                idle += poll_interval

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/files/{requested:path}")
    def files(requested: str):
        path = safe_path(root, requested)
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type=SERVED_SUFFIXES[path.suffix.lower()],
                            headers={"Cache-Control": "no-cache"})

    return app


def start_in_thread(session_dir, *, host: str = "127.0.0.1", port: int = 8765, timeout: float = 10.0):
    """Run the server in a daemon thread; returns the ``uvicorn.Server`` once it listens.

    ``port=0`` picks a free port: read it back from ``server.port``. Set
    ``server.should_exit = True`` to stop it.
    """
    import uvicorn

    config = uvicorn.Config(create_app(session_dir), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=1, lifespan="off")
    server = uvicorn.Server(config)
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
