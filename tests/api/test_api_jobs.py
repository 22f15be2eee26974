"""Jobs end to end in-process: a real Dramatiq worker on the StubBroker runs the debug model.

Covers the result and its downloads (target + residual == input), SSE, idempotency (a duplicate message does no
work and charges nothing), bad media failing only its job, retries, webhooks, reconciliation and retention.
"""

import io
import json
import time
from datetime import timedelta

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import update

from api.db import session_scope
from api.models import ApiKey, Job, StoredFile, WebhookDelivery
from api.settings import get_settings
from api.timeutil import utcnow
from api.webhooks import verify
from api.worker.broker import enqueue_separation, get_broker
from tests.api.helpers import WebhookReceiver, submit, upload, wav_bytes


def status(client, auth, rid: str) -> dict:
    return client.get(f"/v1/queue/requests/{rid}/status?logs=true", headers=auth).json()


def download(client, url: str) -> tuple[np.ndarray, int]:
    r = client.get(url.replace("http://testserver", ""))
    assert r.status_code == 200, r.text
    return sf.read(io.BytesIO(r.content), always_2d=True)


def test_completed_result_downloads_and_sse(client, auth, run_worker):
    data = wav_bytes(2.0, sr=22050, channels=2)
    rid = submit(client, auth, upload(client, auth, data))
    run_worker()
    s = status(client, auth, rid)
    assert s["status"] == "COMPLETED", s
    assert [m["message"] for m in s["logs"]][0] == "queued" and "completed" in s["logs"][-1]["message"]
    res = client.get(f"/v1/queue/requests/{rid}/result", headers=auth).json()
    assert res["status"] == "COMPLETED" and res["data"]["sample_rate"] == 22050
    assert res["data"]["duration"] == pytest.approx(2.0) and res["usage"] == {
        "feature": "audio_seconds", "quantity": 2, "billing_status": "not_metered"}
    assert res["data"]["target"]["file_name"] == "target.wav" and "video_url" not in res["data"]["target"]
    mix, sr = sf.read(io.BytesIO(data), always_2d=True)
    target, tsr = download(client, res["data"]["target"]["url"])
    residual, _ = download(client, res["data"]["residual"]["url"])
    assert tsr == sr and target.shape == mix.shape == residual.shape
    np.testing.assert_allclose(target + residual, mix, atol=1e-4)
    bad = res["data"]["target"]["url"].replace("signature=", "signature=f")
    assert client.get(bad.replace("http://testserver", "")).status_code == 403
    with client.stream("GET", f"/v1/queue/requests/{rid}/status/stream?interval=0", headers=auth) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [b for b in text.split("\n\n") if b.startswith("event:")]
    assert len(events) == 1 and events[0].startswith("event: status\ndata: ")
    assert json.loads(events[0].split("data: ", 1)[1])["status"] == "COMPLETED"


def test_sse_timeout_event(client, auth, monkeypatch):
    monkeypatch.setattr(get_settings(), "stream_window", 0.0)
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    with client.stream("GET", f"/v1/queue/requests/{rid}/status/stream?interval=99&logs=true", headers=auth) as r:
        text = "".join(r.iter_text())
    names = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event:")]
    assert names == ["status", "timeout"]
    assert json.loads(text.split("\n\n")[0].split("data: ", 1)[1])["logs"]


def test_sse_streams_per_key_are_capped(app, client, auth, monkeypatch):
    import threading

    from fastapi.testclient import TestClient

    st = get_settings()
    monkeypatch.setattr(st, "max_streams_per_key", 1)
    monkeypatch.setattr(st, "stream_window", 2.0)
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    url = f"/v1/queue/requests/{rid}/status/stream?interval=1"
    first = threading.Thread(target=lambda: TestClient(app).get(url, headers=auth))
    first.start()
    deadline = time.monotonic() + 5
    while sum(app.state.streams.held.values()) < 1 and time.monotonic() < deadline:  # the first stream is open
        time.sleep(0.05)
    r = client.get(url, headers=auth)
    first.join()
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_STREAMS", r.text
    with client.stream("GET", url, headers=auth) as r:  # the first stream ended: its place is free again
        assert r.status_code == 200


def test_duplicate_message_and_credits_charged_once(client, make_key, run_worker):
    h = make_key(credits=10)
    rid = submit(client, h, upload(client, h, wav_bytes(2.0)))
    enqueue_separation(get_broker(get_settings()), rid)  # the broker delivers it twice
    run_worker()
    enqueue_separation(get_broker(get_settings()), rid)  # and once more, after completion
    run_worker()
    s = status(client, h, rid)
    assert s["status"] == "COMPLETED" and sum("started" in log["message"] for log in s["logs"]) == 1
    res = client.get(f"/v1/queue/requests/{rid}/result", headers=h).json()
    assert res["usage"] == {"feature": "audio_seconds", "quantity": 2, "billing_status": "deducted"}
    with session_scope(get_settings().database) as s:
        assert [k.credits for k in s.query(ApiKey)] == [8.0]


def test_bad_media_fails_only_its_job(client, auth, run_worker):
    good = submit(client, auth, upload(client, auth, wav_bytes()))
    corrupt = submit(client, auth, upload(client, auth, b"RIFF" + bytes(range(256)) * 8, name="bad.wav"))
    empty = submit(client, auth, upload(client, auth, wav_bytes(0.0), name="empty.wav"))
    run_worker()
    assert status(client, auth, good)["status"] == "COMPLETED"
    for rid in (corrupt, empty):
        s = status(client, auth, rid)
        assert s["status"] == "FAILED", s
        assert any(c in s["logs"][-1]["message"] for c in ("INVALID_AUDIO", "UNSUPPORTED_FORMAT")), s["logs"]
        r = client.get(f"/v1/queue/requests/{rid}/result", headers=auth)
        assert r.status_code == 409 and r.json()["error"]["code"] == "REQUEST_FAILED"
    with session_scope(get_settings().database) as s:
        job = s.get(Job, corrupt)
        assert job.attempts == 1 and job.billing_status == "not_metered"  # no retry of bad input


def test_worker_refuses_media_over_the_same_limit(client, auth, run_worker, monkeypatch):
    """LASSO_MAX_DURATION is the workers' limit too, for media whose length submit could not know."""
    rid = submit(client, auth, upload(client, auth, wav_bytes(3.0)))
    monkeypatch.setattr(get_settings(), "max_duration", 2.0)
    run_worker()
    s = status(client, auth, rid)
    assert s["status"] == "FAILED" and "AUDIO_TOO_LONG" in s["logs"][-1]["message"], s


def test_infrastructure_fault_is_retried(client, auth, run_worker, monkeypatch):
    import lasso

    real, calls = lasso.separate_file, []

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return real(*a, **k)

    monkeypatch.setattr(lasso, "separate_file", flaky)
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    run_worker()
    s = status(client, auth, rid)
    assert s["status"] == "COMPLETED" and len(calls) == 2
    assert any("attempt failed" in log["message"] for log in s["logs"])


def test_retries_exhausted_fail_the_job(client, make_key, run_worker, monkeypatch):
    """Dramatiq's `retry_when` stops after job_max_retries; its `on_retry_exhausted` fails the job, credits back."""
    import lasso

    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise OSError("disk gone")

    monkeypatch.setattr(get_settings(), "job_max_retries", 1)
    monkeypatch.setattr(lasso, "separate_file", broken)
    h = make_key(credits=5)
    rid = submit(client, h, upload(client, h, wav_bytes()))
    run_worker()
    s = status(client, h, rid)
    assert s["status"] == "FAILED" and len(calls) == 2, s
    assert "MODEL_FAILED" in s["logs"][-1]["message"] and "OSError: disk gone" in s["logs"][-1]["message"]
    with session_scope(get_settings().database) as db:
        assert db.get(Job, rid).attempts == 2 and db.query(ApiKey).one().credits == 5.0


def test_webhook_signed_delivery(client, auth, run_worker, lasso_env, monkeypatch):
    monkeypatch.setattr(get_settings(), "allow_loopback_urls", True)
    rx = WebhookReceiver()
    try:
        r = client.post("/v1/queue/audio/separate", headers=auth, json={
            "input": {"file_id": upload(client, auth, wav_bytes()), "prompt": "x"}, "webhookUrl": rx.url,
            "metadata": {"order": 42}})
        secret, rid = r.json()["webhook"]["signing_secret"], r.json()["request_id"]
        run_worker()
    finally:
        rx.close()
    assert len(rx.received) == 1
    headers, body = rx.received[0]
    assert verify(secret, headers, body) and not verify(secret + "x", headers, body)
    event = json.loads(body)
    assert event["type"] == "audio.separate.completed" and event["request_id"] == rid
    assert event["metadata"] == {"order": 42} and event["data"]["target"]["url"] and event["completed_at"]
    wh = status(client, auth, rid)["webhook"]
    assert wh["delivery_status"] == "delivered" and wh["attempts"] == 1 and wh["delivered_at"]


def test_webhook_receiver_down_retries_then_fails(client, auth, run_worker, monkeypatch):
    st = get_settings()
    for k, v in (("allow_loopback_urls", True), ("webhook_backoff", 0.05), ("webhook_max_attempts", 3)):
        monkeypatch.setattr(st, k, v)
    rx = WebhookReceiver(status=503)
    try:
        r = client.post("/v1/queue/audio/separate", headers=auth, json={
            "input": {"file_id": upload(client, auth, wav_bytes(0.0)), "prompt": "x"}, "webhookUrl": rx.url})
        run_worker()
    finally:
        rx.close()
    rid = r.json()["request_id"]
    assert len(rx.received) == 3 and json.loads(rx.received[0][1])["type"] == "audio.separate.failed"
    assert len({h["webhook-id"] for h, _ in rx.received}) == 1  # retries keep the message id
    wh = status(client, auth, rid)["webhook"]
    assert wh == {"delivery_status": "failed", "attempts": 3, "delivered_at": None, "last_error": "HTTP 503"}


def test_webhook_left_sending_by_a_dead_worker(client, auth, run_worker, monkeypatch):
    """A worker died mid-POST: maintenance re-sends once the lease is stale, or fails it when attempts are used up."""
    from api import webhooks
    from api.worker import maintenance

    st = get_settings()
    for k, v in (("allow_loopback_urls", True), ("webhook_max_attempts", 3)):
        monkeypatch.setattr(st, k, v)
    real, calls = webhooks.deliver, []

    def dies_first(*a, **k):  # the first attempt never records its outcome, as when the worker is killed
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker killed mid-POST")
        return real(*a, **k)

    monkeypatch.setattr(webhooks, "deliver", dies_first)
    rx = WebhookReceiver()
    try:
        r = client.post("/v1/queue/audio/separate", headers=auth, json={
            "input": {"file_id": upload(client, auth, wav_bytes()), "prompt": "x"}, "webhookUrl": rx.url})
        secret, rid = r.json()["webhook"]["signing_secret"], r.json()["request_id"]
        run_worker()
        assert status(client, auth, rid)["webhook"]["delivery_status"] == "sending"
        maintenance.run_once()  # a fresh lease: the attempt may still be running
        assert status(client, auth, rid)["webhook"]["delivery_status"] == "sending" and not rx.received
        _age_delivery(rid, st.webhook_stale_after + 5)
        maintenance.run_once()
        wh = status(client, auth, rid)["webhook"]
        assert wh["delivery_status"] == "pending" and wh["attempts"] == 1 and "stopped responding" in wh["last_error"]
        run_worker()
        assert len(rx.received) == 1
        headers, body = rx.received[0]
        assert verify(secret, headers, body) and json.loads(body)["request_id"] == rid
        wh = status(client, auth, rid)["webhook"]
        assert wh["delivery_status"] == "delivered" and wh["attempts"] == 2 and wh["last_error"] is None

        _age_delivery(rid, st.webhook_stale_after + 5, attempts=st.webhook_max_attempts - 1)  # lost its last try
        assert maintenance.reconcile_webhooks() == [rid] and maintenance.reconcile_webhooks() == []
        run_worker()
    finally:
        rx.close()
    assert len(rx.received) == 1  # nothing more was sent
    wh = status(client, auth, rid)["webhook"]
    assert wh["delivery_status"] == "failed" and wh["attempts"] == 3 and "stopped responding" in wh["last_error"]


def _age_delivery(rid: str, seconds: float, **values) -> None:
    """Leave the delivery as a killed worker does: `sending`, with a lease `seconds` old."""
    with session_scope(get_settings().database) as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.job_id == rid).values(
            status="sending", delivered_at=None, sending_at=utcnow() - timedelta(seconds=seconds), **values))


def test_reconcile_requeues_orphans_then_fails_them(client, auth, run_worker):
    from api.worker import maintenance

    st = get_settings()
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    get_broker(st).flush_all()  # the message is lost with its worker
    old = utcnow() - timedelta(seconds=st.job_stale_after + 5)
    with session_scope(st.database) as s:  # as if a worker had claimed it and died
        s.execute(update(Job).where(Job.id == rid).values(status="IN_PROGRESS", heartbeat_at=old, attempts=1,
                                                          worker_id="dead:1:1"))
    assert maintenance.reconcile() == [rid]
    assert status(client, auth, rid)["status"] == "IN_QUEUE"
    run_worker()
    assert status(client, auth, rid)["status"] == "COMPLETED"
    rid2 = submit(client, auth, upload(client, auth, wav_bytes()))
    get_broker(st).flush_all()
    with session_scope(st.database) as s:
        s.execute(update(Job).where(Job.id == rid2).values(status="IN_PROGRESS", heartbeat_at=old,
                                                           attempts=st.job_max_attempts))
    maintenance.reconcile()
    s = status(client, auth, rid2)
    assert s["status"] == "FAILED" and "WORKER_LOST" in s["logs"][-1]["message"]


def test_retention_cleanup(client, auth, run_worker):
    from api.worker import maintenance

    st = get_settings()
    fid = upload(client, auth, wav_bytes())
    rid = submit(client, auth, fid)
    run_worker()
    url = client.get(f"/v1/queue/requests/{rid}/result", headers=auth).json()["data"]["target"]["url"]
    past = utcnow() - timedelta(seconds=1)
    with session_scope(st.database) as s:
        s.execute(update(Job).where(Job.id == rid).values(delete_after=past))
        s.execute(update(StoredFile).where(StoredFile.id == fid).values(delete_after=past))
    assert maintenance.cleanup() == {"files": 1, "outputs": 1, "records": 0}
    r = client.get(f"/v1/queue/requests/{rid}/result", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "RESULT_EXPIRED"
    assert client.get(url.replace("http://testserver", "")).status_code == 404
    assert client.get(f"/v1/files/{fid}", headers=auth).json()["status"] == "expired"
    assert not list((st.home / "storage" / "outputs").glob(f"{rid}/*"))
