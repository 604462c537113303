"""The outreach web server: what it serves, what it refuses, live updates."""

from __future__ import annotations

import http.client
import json
import re

import pytest
from fastapi.testclient import TestClient

from dsodetect.web.server import STATIC, create_app, safe_path, start_in_thread


@pytest.fixture
def sess(tmp_path):
    root = tmp_path / "sess"
    (root / "view").mkdir(parents=True)
    (root / "view" / "s1.jpg").write_bytes(b"\xff\xd8jpeg")
    (root / "toy").mkdir()
    (root / "toy" / "s1.json").write_text('{"detections": []}')
    (root / "session.sqlite").write_bytes(b"SQLite format 3\x00")
    (root / ".watch.lock").write_text("")
    (root / "session.json").write_text(json.dumps({"version": 1, "updated": 0, "stacks": [], "tracks": [],
                                                   "events": [], "target": {}, "methods": []}))
    (tmp_path / "secret.txt").write_text("outside the session")
    return root


@pytest.fixture
def client(sess):
    return TestClient(create_app(sess))


def test_page_and_assets_are_served_without_external_urls(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<div id="stage"' in r.text
    for name in ("app.js", "style.css"):
        a = client.get(f"/static/{name}")
        assert a.status_code == 200
    text = "".join((STATIC / n).read_text() for n in ("index.html", "app.js", "style.css"))
    urls = set(re.findall(r"https?://[^\s\"')]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}    # offline: no CDN, no fonts from the web
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_security_headers(client):
    r = client.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_session_files_are_served(client):
    r = client.get("/files/view/s1.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == b"\xff\xd8jpeg"
    assert client.get("/files/toy/s1.json").json() == {"detections": []}
    assert client.get("/api/session").json()["version"] == 1


@pytest.mark.parametrize("url", [
    "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/view/%2e%2e/%2e%2e/secret.txt",
    "/files/..%2fsecret.txt", "/files//etc/passwd", "/files/%2fetc%2fpasswd", "/files/session.sqlite",
    "/files/.watch.lock", "/files/view/missing.jpg", "/files/", "/files/view", "/files/view\\..\\..\\secret.txt",
    "/files/link.txt", "/files/toy/s1.json%00.png",
])
def test_path_traversal_and_private_files_are_refused(client, sess, url):
    (sess / "link.txt").symlink_to(sess.parent / "secret.txt")
    r = client.get(url)
    assert r.status_code == 404
    assert "outside the session" not in r.text and "root:" not in r.text


def test_safe_path_unit(sess):
    assert safe_path(sess, "view/s1.jpg") == (sess / "view" / "s1.jpg").resolve()
    for bad in ["../secret.txt", "/etc/passwd", "view/../../secret.txt", "session.sqlite", ".watch.lock",
                "", "view/\x00.jpg", "view"]:
        assert safe_path(sess, bad) is None


def test_uploads_and_bodies_are_refused(client):
    assert client.post("/files/view/s1.jpg", content=b"x").status_code == 405
    assert client.put("/api/session", content=b"{}").status_code == 405
    big = client.post("/api/session", content=b"x" * 100_000)
    assert big.status_code == 413
    chunked = client.post("/", content=iter([b"a" * 10, b"b" * 10]))
    assert chunked.status_code == 413


def test_missing_snapshot_gives_an_empty_session(tmp_path):
    c = TestClient(create_app(tmp_path))
    s = c.get("/api/session").json()
    assert s["stacks"] == [] and s["version"] == 0


def test_server_binds_localhost_and_streams_updates(sess):
    server = start_in_thread(sess, port=0)
    try:
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        assert host == "127.0.0.1"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/events")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("content-type").startswith("text/event-stream")

        def next_event():
            lines = []
            while True:
                line = resp.readline().decode()
                if line == "\n" and any(x.startswith("data:") for x in lines):
                    return json.loads(next(x for x in lines if x.startswith("data:"))[5:])
                lines.append(line)

        assert next_event()["version"] == 1
        snap = json.loads((sess / "session.json").read_text())
        snap["version"] = 2
        (sess / "session.json").write_text(json.dumps(snap))
        assert next_event()["version"] == 2            # pushed without asking
        conn.close()
    finally:
        server.should_exit = True
        server.thread.join(5)


def test_serve_command_defaults_to_localhost():
    import inspect

    from dsodetect.web.commands import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"


def test_serve_rejects_missing_folder(tmp_path):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    r = CliRunner().invoke(app, ["serve", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a folder" in r.output
