"""What an open deployment needs bounded: request bodies (before parsing and before the key), span counts, what the
unauthenticated health check says, what the access log keeps, and who can read LASSO_HOME."""

import contextlib
import logging
import socket
import stat
import threading
from pathlib import Path

import pytest
from dramatiq.brokers.redis import RedisBroker

from api.schemas import MAX_SPANS
from api.settings import get_settings
from api.supervise import free_port
from tests.api.servers import service_env, start_api, stop

SUBMIT = "/v1/queue/audio/separate"


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:", 1)[1].split()[0])


def _post_raw(port: int, headers: str, body_mib: int) -> bytes:
    """POST `body_mib` MiB of JSON without a key while reading the answer; the answer's first bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    answer = bytearray()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    chunked = "chunked" in headers

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    try:
        sock.sendall(headers.encode() + frame(b'{"input": {"prompt": "'))
        for _ in range(body_mib):
            sock.sendall(frame(b"a" * (1 << 20)))
        sock.sendall(frame(b'"}}') + (b"0\r\n\r\n" if chunked else b""))
    except OSError:  # refused early: the server closed its side
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    reader.join(60)
    sock.close()
    return bytes(answer)


@pytest.mark.heavy
def test_oversized_anonymous_bodies_are_refused_before_they_are_read(tmp_path):
    """200 MiB bodies without a key, declared and chunked: 413 at once, and the API's peak memory stays put."""
    proc, base = start_api(service_env(tmp_path / "home", LASSO_BROKER_URL="stub://"))
    port = int(base.rsplit(":", 1)[1])
    try:
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
        before = _peak_rss_kib(proc.pid)
        size = 200 << 20
        declared = (f"POST {SUBMIT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    f"content-length: {size + 25}\r\n\r\n")
        chunked = (f"POST {SUBMIT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                   "transfer-encoding: chunked\r\n\r\n")
        answers = [_post_raw(port, declared, 200), _post_raw(port, chunked, 200)]
        growth_mib = (_peak_rss_kib(proc.pid) - before) / 1024
    finally:
        stop(proc)
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"code":"REQUEST_TOO_LARGE"' in answer.replace(b" ", b"")
    assert growth_mib < 5, f"the API's peak memory grew by {growth_mib:.1f} MiB"


def test_body_over_the_json_limit_is_413_before_the_key_check(client):
    body = b'{"input": {"prompt": "' + b"a" * 70_000 + b'"}}'
    r = client.post(SUBMIT, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "REQUEST_TOO_LARGE", r.text
    r = client.post(SUBMIT, content=iter([body[:40_000], body[40_000:]]),  # chunked: counted as it arrives
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "REQUEST_TOO_LARGE", r.text
    r = client.post(SUBMIT, content=b'{"input": {"prompt": "x", "audio_url": "https://e.com/a.wav"}}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 401  # small bodies go on to the key check


def test_upload_put_keeps_its_large_limit(client, auth):
    from tests.api.helpers import upload, wav_bytes

    assert upload(client, auth, wav_bytes(5.0))  # 160 kB, over the JSON limit: the signed PUT takes it


def test_span_count_is_bounded(client, auth):
    spans = [{"start": i, "end": i + 0.5} for i in range(MAX_SPANS + 1)]
    r = client.post(SUBMIT, headers=auth, json={"input": {"audio_url": "https://e.com/a.wav", "prompt": "x",
                                                          "spans": spans}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input.spans", r.text


def test_health_does_not_tell_why(app, client):
    closed = free_port()
    app.state.broker = RedisBroker(url=f"redis://127.0.0.1:{closed}/0")
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json() == {"status": "degraded", "database": "ok", "broker": "unreachable"}


def test_access_log_drops_query_strings(app):
    logger = logging.getLogger("uvicorn.access")
    record = logger.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "PUT", "/v1/uploads/file_x?expires=1&signature=abc", "1.1", 200), None)
    assert logger.filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "PUT /v1/uploads/file_x HTTP/1.1" 200'


def test_home_and_secrets_are_private_from_creation(app, client):
    home = get_settings().home
    client.get("/healthz")  # the database has been opened and written
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("lasso.db", "lasso.db-wal", "secret_key"):
        path = home / name
        if path.exists() or name != "lasso.db-wal":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert not list(home.glob("secret_key.*.tmp"))
