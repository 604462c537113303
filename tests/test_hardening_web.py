"""Issue 13, `serve`: symlinks, hidden files, long and odd paths, strict JSON, slow clients, stream cap."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time

import pytest
from fastapi.testclient import TestClient

from dsodetect.web.server import create_app, safe_path, start_in_thread


@pytest.fixture
def sess(tmp_path):
    root = tmp_path / "sess"
    (root / "view").mkdir(parents=True)
    (root / "view" / "s1.jpg").write_bytes(b"\xff\xd8jpeg")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.json").write_text('{"secret": 1}')
    (root / ".secret.json").write_text('{"secret": 2}')
    (root / "session.json").write_text(json.dumps({"version": 1, "stacks": []}))
    (tmp_path / "outside.json").write_text('{"secret": 3}')
    return root


@pytest.fixture
def client(sess):
    return TestClient(create_app(sess))  # raises on any server error: a 500 fails the test


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_to_hidden_or_outside_files_are_refused(sess, client):
    links = {"to_hidden_file.json": sess / ".secret.json", "to_hidden_dir.json": sess / ".hidden" / "h.json",
             "to_outside.json": sess.parent / "outside.json", "dir_link": sess / ".hidden",
             "ok.jpg": sess / "view" / "s1.jpg", "loop.json": sess / "loop.json"}
    for name, target in links.items():
        os.symlink(target, sess / name)
    for url in ("to_hidden_file.json", "to_hidden_dir.json", "to_outside.json", "dir_link/h.json", "loop.json"):
        assert client.get(f"/files/{url}").status_code == 404, url
        assert safe_path(sess, url) is None
    r = client.get("/files/ok.jpg")  # a link to a servable file inside the folder is fine
    assert r.status_code == 200 and r.content == b"\xff\xd8jpeg"


@pytest.mark.parametrize("path", [
    "a" * 300 + ".json", "view/" + "b" * 256 + ".jpg", "x/" * 600 + "a.json", "a" * 5000,
    "view/s1.jpg%00.json", "view%2F..%2F..%2Foutside.json", "%ff%fe.json", "a%0ab.json", "a%1b.json",
    "view/s1.jpg/..", "~root/.ssh/id_rsa", "%5c..%5coutside.json",
])
def test_long_and_odd_paths_are_404_not_500(client, path):
    assert client.get(f"/files/{path}").status_code == 404
    assert client.get(f"/static/{path}").status_code == 404


def test_snapshot_with_nan_or_infinity_is_served_as_strict_json(sess, client):
    (sess / "session.json").write_text('{"version": 2, "stacks": [{"seconds": Infinity, "snr": NaN}], '
                                       '"x": -Infinity}')
    data = _strict(client.get("/api/session").text)
    assert data["stacks"][0] == {"seconds": None, "snr": None} and data["x"] is None


def test_event_streams_are_capped(sess):
    server = start_in_thread(sess, port=0)
    try:
        # Rebuild the app with a cap of 1 on the running server.
        server.config.app = server.config.loaded_app = create_app(sess, max_streams=1)
        first = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        first.request("GET", "/api/events")
        r1 = first.getresponse()
        assert r1.status == 200 and r1.readline().startswith(b"retry")
        second = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        second.request("GET", "/api/events")
        r2 = second.getresponse()
        assert r2.status == 503 and r2.getheader("Retry-After")
        r2.read()
        first.close()
        for _ in range(50):  # the slot comes back once the first client is gone
            third = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            third.request("GET", "/api/events")
            r3 = third.getresponse()
            third.close()
            if r3.status == 200:
                break
            time.sleep(0.1)
        assert r3.status == 200
    finally:
        server.should_exit = True
        server.thread.join(5)


def _closed_within(sock, seconds):
    sock.settimeout(seconds)
    t0 = time.monotonic()
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return time.monotonic() - t0
    except socket.timeout:
        return None
    except ConnectionResetError:
        return time.monotonic() - t0


def test_slow_headers_and_idle_connections_are_closed(sess):
    server = start_in_thread(sess, port=0, header_timeout=0.5, keep_alive=1)
    try:
        silent = socket.create_connection(("127.0.0.1", server.port))
        assert _closed_within(silent, 5) is not None           # connected, sent nothing
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")          # headers never finished
        time.sleep(0.3)
        slow.sendall(b"X-Slow: 1\r\n")                           # a byte now and then does not help
        assert _closed_within(slow, 5) is not None
        idle = socket.create_connection(("127.0.0.1", server.port))
        idle.sendall(b"GET /api/session HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.settimeout(5)
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_within(idle, 5) is not None             # keep-alive timeout
        # A normal client is unaffected.
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        c.request("GET", "/api/session")
        assert c.getresponse().status == 200
    finally:
        server.should_exit = True
        server.thread.join(5)
