"""``dsodetect serve``: the outreach page, with every address a phone can use and a QR code."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "lan_addresses", "page_urls", "write_phone_links", "qr_text"]

_LOCAL = ("127.0.0.1", "localhost", "::1")
_WILDCARD = ("0.0.0.0", "::", "")


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine that others on the network can reach (no loopback, no link-local).

    From every network interface (psutil when installed), plus the address of
    the default route (a UDP socket "connected" to a private address: no
    packet is sent), plus the host name's addresses.
    """
    found: list[str] = []
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            found += [a.address for a in addrs if a.family == socket.AF_INET]
    except Exception:  # psutil missing or restricted
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        found += [i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    out = []
    for a in found:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or a in out:
            continue
        out.append(a)
    return sorted(out, key=lambda a: (not ipaddress.ip_address(a).is_private, a))


def page_urls(host: str, port: int) -> list[str]:
    """Every URL of the page: ``localhost`` for a local bind, each LAN address for ``0.0.0.0``."""
    if host in _LOCAL:
        return [f"http://localhost:{port}/"]
    if host in _WILDCARD:
        return [f"http://{a}:{port}/" for a in lan_addresses()] or [f"http://localhost:{port}/"]
    return [f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"]


def qr_text(url: str) -> str:
    """The QR code of ``url`` as text for a terminal (two rows per line, dark on light)."""
    import segno

    qr = segno.make(url, error="m")
    rows = [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=2)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    out = []
    for top, bottom in zip(rows[::2], rows[1::2]):
        # Light background, dark modules: scannable on a dark terminal.
        out.append("".join(" " if t and b else "\u2584" if t else "\u2580" if b else "\u2588"
                           for t, b in zip(top, bottom)))
    return "\n".join(out)


def write_phone_links(session: Path, urls: list[str]) -> Path | None:
    """Write ``phone.json`` (the URLs) and ``phone-qr.png`` (the QR code of the first) into the session
    folder, for the page to show. Returns the PNG, or None when it cannot be written (read-only folder)."""
    import segno

    session = Path(session)
    try:
        png = session / "phone-qr.png"
        tmp = session / f".phone-qr.{os.getpid()}.png"
        segno.make(urls[0], error="m").save(str(tmp), scale=8, border=2, dark="#000", light="#fff")
        os.replace(tmp, png)
        tmpj = session / f".phone.{os.getpid()}.json"
        tmpj.write_text(json.dumps({"urls": urls, "qr": "phone-qr.png"}))
        os.replace(tmpj, session / "phone.json")
        return png
    except OSError:
        return None


def serve(
    session: Annotated[Path, typer.Argument(help="Session folder written by 'dsodetect watch'.")],
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 lets phones on the same network in.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Print a QR code of the page's address (phones).")] = True,
):
    """Serve the outreach page for a live session: latest stack, overlays, objects, timeline."""
    import uvicorn

    from .server import create_app, server_config

    if not session.is_dir():
        typer.echo(f"error: {session}: not a folder", err=True)
        raise typer.Exit(2)
    urls = page_urls(host, port)
    if host not in _LOCAL:
        typer.echo(f"note: listening on {host}: anyone on this network can view the session (read-only)")
    for u in urls:
        typer.echo(f"outreach page: {u}")
    if host not in _LOCAL:
        write_phone_links(session, urls)
        if qr:
            typer.echo(f"scan with a phone on the same network ({urls[0]}):")
            typer.echo(qr_text(urls[0]))
    typer.echo("Ctrl-C to stop")
    # Header and idle timeouts, connection and event-stream caps (web.server.server_config).
    uvicorn.Server(server_config(create_app(session), host=host, port=port)).run()


def register(app: typer.Typer) -> None:
    app.command()(serve)
