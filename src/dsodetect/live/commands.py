"""``dsodetect watch`` and ``dsodetect compare``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .._options import FlattenOpt

__all__ = ["register", "load_detectors"]


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def load_detectors(methods: str, options=()):
    """Comma-separated method names -> detectors (the CLI's loader); exits 2 with one line if one cannot run."""
    from ..cli import load_detector

    names = [m.strip() for m in methods.split(",") if m.strip()]
    if not names:
        raise typer.BadParameter("give at least one method")
    return [load_detector(name, options) for name in dict.fromkeys(names)]


def _lock(session_dir: Path):
    """Refuse a second watcher on the same session (the store has one writer).

    The lock goes with the process, so a killed watcher leaves none behind.
    """
    fh = open(session_dir / ".watch.lock", "a+")
    try:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        fh.close()
        _err(f"error: another 'dsodetect watch' is already using {session_dir}")
        raise typer.Exit(2)
    return fh


def watch(
    folder: Annotated[Path, typer.Argument(help="Folder the telescope or its app writes stacks into.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Comma-separated methods (see 'dsodetect methods').")] = "yolo",
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Session folder (default: <folder>/dsodetect-session).")] = None,
    target: Annotated[Optional[str], typer.Option(help="Expected target, any name: 'M 51', 'Whirlpool', 'B 33' (else: the object at the frame centre).")] = None,
    no_signal_minutes: Annotated[float, typer.Option(help="Warn when the target is not seen after this much integration.")] = 30.0,
    snr_threshold: Annotated[float, typer.Option(help="S/N at which an object counts as clearly visible (time estimates).")] = 5.0,
    appear_score: Annotated[float, typer.Option(help="Score an object needs to be announced.")] = 0.3,
    poll: Annotated[bool, typer.Option("--poll", help="Poll the folder instead of OS events (network shares).")] = False,
    settle: Annotated[float, typer.Option(help="Seconds a file must stay unchanged to count as complete.")] = 1.0,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Watch sub-folders too.")] = False,
    ftp: Annotated[Optional[str], typer.Option(help="Also pull stacks from ftp://[user[:pass]@]host[:port]/path.")] = None,
    ftp_interval: Annotated[float, typer.Option(help="Seconds between FTP listings.")] = 5.0,
    webhook: Annotated[Optional[str], typer.Option(help="POST notifications to this URL (e.g. an ntfy topic).")] = None,
    webhook_format: Annotated[str, typer.Option(help="ntfy (text + Title header) or json.")] = "ntfy",
    desktop: Annotated[bool, typer.Option("--desktop/--no-desktop", help="Desktop notifications (notify-send).")] = True,
    flatten: FlattenOpt = False,
    identify: Annotated[bool, typer.Option("--identify", help="Name objects from OpenNGC (header WCS, else offline astrometry.net plate solving).")] = False,
    solve_timeout: Annotated[float, typer.Option(help="--identify: seconds allowed for one plate solve.")] = 60.0,
    format: Annotated[str, typer.Option("--format", "-f", help="Per-method outputs: yolo,json,png.")] = "yolo,json,png",
    serve: Annotated[bool, typer.Option("--serve", help="Also serve the outreach page.")] = False,
    host: Annotated[str, typer.Option(help="Address for --serve (0.0.0.0 to reach it from phones on the network).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8765,
    duration: Annotated[Optional[float], typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")] = None,
):
    """Watch a folder during an observing session: detect, track and announce objects in each new stack.

    Each stack is processed once, when complete; a restarted watcher resumes
    where it stopped. Outputs go to the session folder (per method, as
    'dsodetect detect'), with session.jsonl (the log) and session.json (for
    'dsodetect serve').
    """
    import threading

    from ..cli import _parse_formats
    from .ftp import FtpPuller, parse_ftp_url
    from .notify import Notifier
    from .session import LiveSession, SessionConfig
    from .store import SessionStore
    from .watcher import FolderWatcher

    if not folder.is_dir():
        _err(f"error: {folder}: not a folder")
        raise typer.Exit(2)
    formats = _parse_formats(format)
    session_dir = (session or folder / "dsodetect-session").resolve()
    session_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(session_dir)
    try:
        source = parse_ftp_url(ftp) if ftp else None
        notifier = Notifier(desktop=desktop, webhook=webhook, webhook_format=webhook_format)
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2)
    from ..cli import make_identifier

    detectors = load_detectors(method)
    hook = make_identifier(solve_timeout) if identify else None
    config = SessionConfig(session_dir=session_dir, formats=formats, target=target,
                           no_signal_minutes=no_signal_minutes, snr_threshold=snr_threshold,
                           appear_score=appear_score, root=folder.resolve(), flatten=flatten)
    live = LiveSession(config, detectors, notifier=notifier, identify=hook)

    def on_file(path):
        try:
            live.process(path)
        except MemoryError:
            _err(f"error: {path}: out of memory while processing")

    watcher = FolderWatcher(folder, on_file, is_done=live.is_done, poll=poll, settle=settle,
                            recursive=recursive, exclude=[session_dir])
    stop = threading.Event()
    threads = []
    if source:
        ftp_store = SessionStore(session_dir / "session.sqlite")  # own connection for its thread
        puller = FtpPuller(source, folder, seen=ftp_store.pulled, mark=ftp_store.add_pulled,
                           interval=ftp_interval)
        threads.append(threading.Thread(target=puller.run, args=(stop,), daemon=True))
    if serve:
        from ..web.server import start_in_thread

        from ..web.commands import _LOCAL, page_urls, qr_text, write_phone_links

        server = start_in_thread(session_dir, host=host, port=port)
        urls = page_urls(host, port)
        for u in urls:
            typer.echo(f"outreach page: {u}")
        if host not in _LOCAL:
            write_phone_links(session_dir, urls)
            typer.echo(f"scan with a phone on the same network ({urls[0]}):\n{qr_text(urls[0])}")
    for t in threads:
        t.start()
    typer.echo(f"watching {folder} ({'polling' if poll else 'events'}) with {', '.join(d.name for d in detectors)}"
               f"; session in {session_dir}; {live.store.count()} stack(s) already done. Ctrl-C to stop.")
    try:
        watcher.run(stop=stop, timeout=duration)
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        stop.set()
        if serve:
            server.should_exit = True
        live.close()
        lock.close()


def compare(
    stack_a: Annotated[Path, typer.Argument(help="Earlier / shorter stack.")],
    stack_b: Annotated[Path, typer.Argument(help="Later, longer or merged stack of the same field.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Comma-separated methods.")] = "yolo",
    min_iou: Annotated[float, typer.Option(help="Overlap that makes two boxes the same object.")] = 0.3,
    identify: Annotated[bool, typer.Option("--identify", help="Name objects from OpenNGC.")] = False,
    solve_timeout: Annotated[float, typer.Option(help="--identify: seconds allowed for one plate solve.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
):
    """Does more integration (or merging sessions) add objects? Lists objects gained, lost and kept."""
    from ..io import ImageReadError
    from .compare import compare_stacks, format_comparison

    from ..cli import make_identifier

    detectors = load_detectors(method)
    try:
        report = compare_stacks(stack_a, stack_b, detectors, min_iou=min_iou,
                                identify=make_identifier(solve_timeout) if identify else None)
    except ImageReadError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(1)
    typer.echo(json.dumps(report, indent=2) if as_json else format_comparison(report))


def register(app: typer.Typer) -> None:
    app.command()(watch)
    app.command()(compare)
