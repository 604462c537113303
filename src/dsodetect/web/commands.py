"""``dsodetect serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def serve(
    session: Annotated[Path, typer.Argument(help="Session folder written by 'dsodetect watch'.")],
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 lets phones on the same network in.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
):
    """Serve the outreach page for a live session: latest stack, overlays, objects, timeline."""
    import uvicorn

    from .server import create_app

    if not session.is_dir():
        typer.echo(f"error: {session}: not a folder", err=True)
        raise typer.Exit(2)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"note: listening on {host}: anyone on this network can view the session (read-only)")
    typer.echo(f"outreach page: http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(create_app(session), host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
