"""Pull new stacks from an FTP server into the watched folder.

The Vaonis Vespera (and some other smart telescopes) expose their images over
FTP on the telescope's own Wi-Fi. A remote file is downloaded once its size is
the same in two successive listings (the telescope may still be writing it),
to a hidden temporary name that is then renamed into place, so the folder
watcher only ever sees complete files. Its modification time is set to the
remote one, so a file fetched again after a crash has the same identity and is
not processed twice.
"""

from __future__ import annotations

import ftplib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .completion import is_candidate

__all__ = ["FtpSource", "FtpPuller", "parse_ftp_url"]


@dataclass
class FtpSource:
    host: str
    port: int = 21
    user: str = "anonymous"
    password: str = ""
    path: str = "/"

    def __str__(self) -> str:  # never print the password
        return f"ftp://{self.user}@{self.host}:{self.port}{self.path}"


def parse_ftp_url(url: str) -> FtpSource:
    """``ftp://[user[:password]@]host[:port][/path]`` -> :class:`FtpSource`."""
    u = urlparse(url)
    if u.scheme != "ftp" or not u.hostname:
        raise ValueError(f"not an ftp:// URL: {url!r}")
    return FtpSource(host=u.hostname, port=u.port or 21, user=unquote(u.username or "anonymous"),
                     password=unquote(u.password or ""), path=u.path or "/")


def _parse_mdtm(value: str | None) -> float | None:
    if not value:
        return None
    try:
        import calendar

        return float(calendar.timegm(time.strptime(value[:14], "%Y%m%d%H%M%S")))
    except ValueError:
        return None


class FtpPuller:
    """Copy complete new image files from an FTP folder to a local folder.

    Parameters
    ----------
    source : FtpSource or str
    dest : path-like
        The watched folder.
    seen : callable, optional
        ``seen(remote) -> bool``, ``mark(remote, local)``: persistent record
        (the session store) so that a restart does not fetch again.
    interval : float
        Seconds between listings.
    timeout : float
        FTP socket timeout.
    """

    def __init__(self, source, dest, *, seen=None, mark=None, interval: float = 5.0, timeout: float = 15.0):
        self.source = parse_ftp_url(source) if isinstance(source, str) else source
        self.dest = Path(dest)
        self.seen = seen or (lambda remote: False)
        self.mark = mark or (lambda remote, local: None)
        self.interval = interval
        self.timeout = timeout
        self._sizes: dict[str, int] = {}
        self._warned = False

    def _connect(self) -> ftplib.FTP:
        ftp = ftplib.FTP(timeout=self.timeout)
        ftp.connect(self.source.host, self.source.port)
        ftp.login(self.source.user, self.source.password)
        ftp.cwd(self.source.path)
        return ftp

    @staticmethod
    def _listing(ftp: ftplib.FTP) -> dict[str, tuple[int, float | None]]:
        """name -> (size, mtime) of the files in the current folder."""
        try:
            return {name: (int(facts.get("size", -1)), _parse_mdtm(facts.get("modify")))
                    for name, facts in ftp.mlsd(facts=["type", "size", "modify"])
                    if facts.get("type", "file") == "file"}
        except ftplib.error_perm:  # no MLSD: fall back to NLST + SIZE
            out = {}
            for name in ftp.nlst():
                try:
                    out[name] = (ftp.size(name) or -1, None)
                except ftplib.error_perm:
                    continue  # a folder
            return out

    def poll_once(self) -> list[Path]:
        """List the server once and download the files that are complete; returns new local paths."""
        got = []
        with self._connect() as ftp:
            for name, (size, mtime) in sorted(self._listing(ftp).items()):
                remote = f"{self.source.path.rstrip('/')}/{name}|{size}|{mtime}"
                if not is_candidate(name) or size <= 0 or self.seen(remote):
                    continue
                if self._sizes.get(name) != size:  # still growing, or first sight
                    self._sizes[name] = size
                    continue
                local = self.dest / name
                if not (local.exists() and local.stat().st_size == size):
                    tmp = self.dest / f".{name}.part"
                    with open(tmp, "wb") as fh:
                        ftp.retrbinary(f"RETR {name}", fh.write)
                    if tmp.stat().st_size != size:  # changed while we read it
                        tmp.unlink()
                        self._sizes.pop(name, None)
                        continue
                    if mtime:
                        os.utime(tmp, (mtime, mtime))
                    os.replace(tmp, local)
                self.mark(remote, str(local))
                got.append(local)
        return got

    def run(self, stop: threading.Event, log=print) -> None:
        """Poll until ``stop`` is set; connection problems are reported and retried."""
        while not stop.is_set():
            try:
                for p in self.poll_once():
                    log(f"fetched {p.name} from {self.source.host}")
                self._warned = False
            except (OSError, EOFError, ftplib.Error) as exc:
                if not self._warned:
                    log(f"warning: FTP {self.source}: {exc} (will keep trying)")
                    self._warned = True
            stop.wait(self.interval)
