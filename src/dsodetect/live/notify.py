"""Notifications: console always, desktop (``notify-send``) where available, webhook optionally.

The webhook speaks ntfy's format by default (plain-text body, ``Title`` and
``Tags`` headers: ``https://ntfy.sh/<topic>`` or a self-hosted ntfy works
as is) or posts JSON (``{"title", "message", "kind"}``) for other services.
Desktop and webhook sends run in background threads so that a slow or
unreachable network never delays the next stack.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field

__all__ = ["Notifier", "Notification"]

_TAGS = {"appeared": "telescope", "target_confirmed": "white_check_mark", "no_signal": "warning",
         "eta": "hourglass"}


@dataclass
class Notification:
    kind: str
    title: str
    message: str
    time: float = field(default_factory=time.time)


class Notifier:
    """Send each notification to the console and the configured channels.

    Parameters
    ----------
    desktop : bool
        Use ``notify-send`` when it is on PATH (silently skipped otherwise).
    webhook : str, optional
        URL to POST to.
    webhook_format : {'ntfy', 'json'}
    stream : file, optional
        Console stream (default stdout).
    timeout : float
        Seconds allowed for one webhook or desktop call.
    """

    def __init__(self, *, desktop: bool = True, webhook: str | None = None,
                 webhook_format: str = "ntfy", stream=None, timeout: float = 5.0):
        if webhook_format not in ("ntfy", "json"):
            raise ValueError(f"webhook format must be 'ntfy' or 'json', not {webhook_format!r}")
        if webhook and not webhook.lower().startswith(("http://", "https://")):
            raise ValueError(f"webhook must be an http(s) URL, not {webhook!r}")
        self.notify_send = shutil.which("notify-send") if desktop else None
        self.webhook = webhook
        self.webhook_format = webhook_format
        self.stream = stream
        self.timeout = timeout
        self.history: list[Notification] = []
        self.errors: list[str] = []
        self._threads: list[threading.Thread] = []

    def send(self, kind: str, title: str, message: str) -> Notification:
        note = Notification(kind, title, message)
        self.history.append(note)
        stream = self.stream or sys.stdout
        print(f"[{time.strftime('%H:%M:%S')}] ** {title}: {message}", file=stream, flush=True)
        if self.notify_send:
            self._background(self._desktop, note)
        if self.webhook:
            self._background(self._post, note)
        return note

    def flush(self, timeout: float | None = None) -> None:
        """Wait for background sends to finish."""
        for t in self._threads:
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _background(self, fn, note) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        t = threading.Thread(target=fn, args=(note,), daemon=True)
        t.start()
        self._threads.append(t)

    def _desktop(self, note: Notification) -> None:
        urgency = "critical" if note.kind == "no_signal" else "normal"
        try:
            subprocess.run([self.notify_send, "-a", "dsodetect", "-u", urgency, note.title, note.message],
                           timeout=self.timeout, capture_output=True, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            self.errors.append(f"desktop notification failed: {exc}")

    def _post(self, note: Notification) -> None:
        if self.webhook_format == "json":
            body = json.dumps({"title": note.title, "message": note.message, "kind": note.kind,
                               "time": note.time}).encode()
            headers = {"Content-Type": "application/json"}
        else:
            body = note.message.encode()
            # HTTP headers are latin-1: keep the title ASCII.
            headers = {"Title": note.title.encode("ascii", "replace").decode(),
                       "Tags": _TAGS.get(note.kind, "telescope"), "Content-Type": "text/plain; charset=utf-8"}
        req = urllib.request.Request(self.webhook, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except Exception as exc:  # network down at the observing site: say so, go on
            msg = f"webhook {self.webhook} failed: {exc}"
            self.errors.append(msg)
            print(f"warning: {msg}", file=self.stream or sys.stderr, flush=True)
