"""audio_url and webhookUrl must not reach anything private: every address form, DNS answers, redirects."""

import http.server
import io
import socket
import ssl
import subprocess
import threading
import time

import pytest

from api import netguard
from api.settings import get_settings
from tests.api.helpers import wav_bytes

BLOCKED = [
    "file:///etc/passwd", "ftp://example.com/a.wav", "gopher://example.com/", "http://example.com/a.wav",
    "https://localhost/a.wav", "https://LOCALHOST./a.wav", "https://api.localhost/a.wav", "https://127.0.0.1/a.wav",
    "https://127.1.2.3/a.wav", "https://[::1]/a.wav", "https://[::ffff:127.0.0.1]/a.wav", "https://10.0.0.5/a.wav",
    "https://172.16.3.4/", "https://192.168.1.1/", "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/", "https://[fd00::1]/", "https://100.64.0.1/", "https://0.0.0.0/", "https://224.0.0.1/",
    "https://2130706433/", "https://0x7f000001/", "https://user:pw@example.com/a.wav", "https:///nohost",
    "https://rebind.example/a.wav", "https://metadata.example/a.wav",
]


@pytest.fixture
def dns(fake_dns):
    fake_dns.update({"rebind.example": ["93.184.216.34", "127.0.0.1"], "metadata.example": ["169.254.169.254"],
                     "2130706433": ["127.0.0.1"], "0x7f000001": ["127.0.0.1"]})
    return fake_dns


@pytest.mark.parametrize("url", BLOCKED)
def test_check_url_blocks(dns, url):
    with pytest.raises(netguard.UnsafeUrl):
        netguard.check_url(url)


def test_check_url_allows_public_https(dns):
    assert netguard.check_url("https://example.com/a.wav") == ("example.com", 443)


def test_loopback_only_when_allowed(dns):
    assert netguard.check_url("http://127.0.0.1:9/a", allow_loopback=True) == ("127.0.0.1", 9)
    assert netguard.check_url("http://localhost:9/a", allow_loopback=True)
    for url in ("http://10.0.0.1/a", "https://169.254.169.254/", "file:///etc/passwd"):
        with pytest.raises(netguard.UnsafeUrl):
            netguard.check_url(url, allow_loopback=True)


@pytest.mark.parametrize("url", BLOCKED[:6] + BLOCKED[7:])
def test_submit_rejects_unsafe_audio_url(client, auth, dns, url):
    r = client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"audio_url": url, "prompt": "x"}})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_AUDIO_URL" and r.json()["error"]["param"] == "input.audio_url"


def test_submit_rejects_unsafe_webhook_url(client, auth, dns):
    for url in ("http://127.0.0.1/h", "https://10.1.1.1/h", "https://metadata.example/h", "file:///x"):
        r = client.post("/v1/queue/audio/separate", headers=auth,
                        json={"input": {"audio_url": "https://example.com/a.wav", "prompt": "x"}, "webhookUrl": url})
        assert r.status_code == 400 and r.json()["error"]["param"] == "webhookUrl", r.text


class Origin:
    """A loopback server: /ok.wav serves audio, /to?u= redirects, /missing 404s, /drip and /slow take their time."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data: bytes | None = None) -> None:
        data = wav_bytes() if data is None else data

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/ok.wav":
                    self.send_response(200)
                    self.send_header("content-type", "audio/wav")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path.startswith("/to?u="):
                    self.send_response(302)
                    self.send_header("location", self.path[len("/to?u="):])
                    self.end_headers()
                elif self.path == "/drip":  # headers one byte at a time: no read ever waits long
                    for byte in b"HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\nx-padding: " + b"p" * 200:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.05)
                elif self.path == "/slow":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(40):
                        self.wfile.write(b"x" * 10)
                        self.wfile.flush()
                        time.sleep(0.1)
                else:
                    self.send_response(404)
                    self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), H)
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def origin(monkeypatch):
    monkeypatch.setattr(get_settings(), "allow_loopback_urls", True)
    o = Origin()
    yield o
    o.server.shutdown()


def _submit(client, auth, url):
    return client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"audio_url": url, "prompt": "x"}})


def test_audio_url_fetched_into_storage(client, auth, origin):
    r = _submit(client, auth, origin.base + "/ok.wav")
    assert r.status_code == 202, r.text
    r = _submit(client, auth, origin.base + "/to?u=/ok.wav")  # a redirect to an allowed place is followed
    assert r.status_code == 202, r.text


def test_redirects_to_private_are_refused(client, auth, origin):
    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/a.wav", "file:///etc/passwd"):
        r = _submit(client, auth, f"{origin.base}/to?u={target}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_AUDIO_URL", r.text


def test_fetch_errors_are_502_and_size_413(client, auth, origin, monkeypatch):
    r = _submit(client, auth, origin.base + "/missing")
    assert r.status_code == 502 and r.json()["error"]["code"] == "AUDIO_URL_FETCH_FAILED"
    closed = f"http://127.0.0.1:{netguard_free_port()}/a.wav"
    assert _submit(client, auth, closed).status_code == 502
    monkeypatch.setattr(get_settings(), "fetch_timeout", 1.0)
    assert _submit(client, auth, origin.base + "/slow").status_code == 502
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 100)
    r = _submit(client, auth, origin.base + "/ok.wav")
    assert r.status_code == 413 and r.json()["error"]["code"] == "MEDIA_TOO_LARGE"


def test_audio_url_too_long_is_413_and_not_stored(client, auth, origin, monkeypatch):
    st = get_settings()
    monkeypatch.setattr(st, "max_duration", 0.5)
    r = _submit(client, auth, origin.base + "/ok.wav")
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "AUDIO_TOO_LONG" and r.json()["error"]["param"] == "input.audio_url"
    storage = st.home / "storage"
    assert not list((storage / ".staging").iterdir()) and not (storage / "jobs").exists()


def test_one_deadline_for_the_whole_fetch(client, auth, origin, monkeypatch):
    """A server dripping its headers (each read is quick, the whole takes 13 s) is cut at the fetch deadline."""
    monkeypatch.setattr(get_settings(), "fetch_timeout", 1.0)
    t0 = time.monotonic()
    r = _submit(client, auth, origin.base + "/drip")
    assert r.status_code == 502 and r.json()["error"]["code"] == "AUDIO_URL_FETCH_FAILED", r.text
    assert time.monotonic() - t0 < 3.0


def test_downloads_in_progress_are_capped_per_key(app, client, auth, origin, monkeypatch):
    from fastapi.testclient import TestClient

    st = get_settings()
    monkeypatch.setattr(st, "max_fetches_per_key", 1)
    monkeypatch.setattr(st, "fetch_timeout", 2.0)
    slow = threading.Thread(target=lambda: _submit(TestClient(app), auth, origin.base + "/drip"))
    slow.start()
    deadline = time.monotonic() + 5
    while sum(app.state.fetches.held.values()) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    r = _submit(client, auth, origin.base + "/ok.wav")
    slow.join()
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_FETCHES", r.text
    assert _submit(client, auth, origin.base + "/ok.wav").status_code == 202  # the slow one's place is free again


def test_fetch_errors_do_not_tell_open_ports_from_closed(origin):
    silent = socket.socket()  # accepts (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        messages = set()
        for url in (f"http://127.0.0.1:{netguard_free_port()}/", f"http://127.0.0.1:{silent.getsockname()[1]}/"):
            with pytest.raises(netguard.FetchError) as err:
                netguard.download(url, io.BytesIO(), allow_loopback=True, timeout=0.5, max_bytes=10)
            messages.add(str(err.value))
    finally:
        silent.close()
    assert messages == {netguard.unreachable(0.5)}


def test_connects_to_the_checked_address_not_a_second_dns_answer(monkeypatch):
    """DNS rebinding: the name answers 127.0.0.1 when checked and 127.0.0.2 afterwards; the fetch stays pinned."""
    good = Origin("127.0.0.1", data=b"good")
    evil = Origin("127.0.0.2", good.server.server_address[1], data=b"evil")
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *a, **k):
        if host != "rebind.test":
            return real(host, port, *a, **k)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.2"), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    out = io.BytesIO()
    try:
        netguard.download(f"http://rebind.test:{good.server.server_address[1]}/ok.wav", out, allow_loopback=True,
                          timeout=5, max_bytes=100)
    finally:
        good.server.shutdown()
        evil.server.shutdown()
    assert out.getvalue() == b"good"


def test_https_to_the_pinned_address_sends_and_verifies_the_host_name(tmp_path, monkeypatch):
    """TLS through the pinned socket: SNI and the certificate check use the URL's host, not the address."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=pinned.test", "-addext", "subjectAltName=DNS:pinned.test", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda sock, name, ctx: names.append(name)
    origin = Origin(data=b"over tls")
    origin.server.socket = tls.wrap_socket(origin.server.socket, server_side=True)
    port = origin.server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "pinned.test"
                                                                          else host, *a, **k))
    monkeypatch.setattr(netguard.certifi, "where", lambda: str(cert))  # trust this one certificate
    out = io.BytesIO()
    try:
        netguard.download(f"https://pinned.test:{port}/ok.wav", out, allow_loopback=True, timeout=5, max_bytes=100)
        with pytest.raises(netguard.FetchError):  # the same server under another name fails verification
            netguard.download(f"https://127.0.0.1:{port}/ok.wav", io.BytesIO(), allow_loopback=True, timeout=5,
                              max_bytes=100)
    finally:
        origin.server.shutdown()
    assert out.getvalue() == b"over tls" and names[0] == "pinned.test"


def netguard_free_port() -> int:
    from api.supervise import free_port

    return free_port()
