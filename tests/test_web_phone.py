"""`serve` tells phones where to go: every LAN URL, a QR code in the console and on the page."""

from __future__ import annotations

import ipaddress
import json

import cv2
import numpy as np

from dsodetect.web import commands as web_commands
from dsodetect.web.commands import lan_addresses, page_urls, qr_text, write_phone_links


def test_page_urls_local_and_lan(monkeypatch):
    assert page_urls("127.0.0.1", 8765) == ["http://localhost:8765/"]
    for a in lan_addresses():
        ip = ipaddress.ip_address(a)
        assert not ip.is_loopback and not ip.is_unspecified and not ip.is_link_local
    monkeypatch.setattr(web_commands, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    assert page_urls("0.0.0.0", 8781) == ["http://192.168.1.20:8781/", "http://10.0.0.5:8781/"]
    assert page_urls("192.168.1.20", 80) == ["http://192.168.1.20:80/"]
    monkeypatch.setattr(web_commands, "lan_addresses", lambda: [])
    assert page_urls("0.0.0.0", 8781) == ["http://localhost:8781/"]  # no network: still a usable line


def _decode(gray_u8):
    data, _, _ = cv2.QRCodeDetector().detectAndDecode(gray_u8)
    return data


def test_console_qr_code_decodes_to_the_url():
    url = "http://192.168.1.20:8781/"
    text = qr_text(url)
    # Back to modules: each character holds two rows; the terminal shows blocks light (dark background).
    rows = []
    for line in text.splitlines():
        top = [c in "\u2588\u2580" for c in line]
        bottom = [c in "\u2588\u2584" for c in line]
        rows += [top, bottom]
    img = (np.array(rows, dtype=np.uint8) * 255)
    img = np.pad(img, 4, constant_values=255)
    img = cv2.resize(img, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    assert _decode(img) == url


def test_phone_links_for_the_page(tmp_path):
    urls = ["http://192.168.1.20:8781/", "http://10.0.0.5:8781/"]
    png = write_phone_links(tmp_path, urls)
    assert json.loads((tmp_path / "phone.json").read_text()) == {"urls": urls, "qr": "phone-qr.png"}
    img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert _decode(img) == urls[0]


def test_serve_prints_every_url_and_a_qr(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dsodetect.cli import app

    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: started.append(self.config))
    monkeypatch.setattr(web_commands, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    r = CliRunner().invoke(app, ["serve", str(tmp_path), "--host", "0.0.0.0", "--port", "8781"])
    assert r.exit_code == 0, r.output
    assert "http://192.168.1.20:8781/" in r.output and "http://10.0.0.5:8781/" in r.output
    assert "0.0.0.0:8781" not in r.output
    assert "\u2588" in r.output  # the QR code
    assert (tmp_path / "phone-qr.png").is_file()
    assert started and started[0].timeout_keep_alive > 0, "served with the hardened config (timeouts, caps)"
    r = CliRunner().invoke(app, ["serve", str(tmp_path)])
    assert "http://localhost:8765/" in r.output and "\u2588" not in r.output
