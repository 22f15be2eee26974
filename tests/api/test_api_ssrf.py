"""audio_url and webhookUrl must not reach anything private: every address form, DNS answers, redirects."""

import http.server
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
    """A loopback server: /ok.wav serves audio, /to?u= redirects, /missing 404s, /big lies about its size."""

    def __init__(self) -> None:
        data = wav_bytes()

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

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
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


def netguard_free_port() -> int:
    from api.supervise import free_port

    return free_port()
