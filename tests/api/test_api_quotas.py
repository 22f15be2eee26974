"""Per-key limits: credits reserved at submit and settled at the end, active requests, uploads; and the worker's
decoding cap, which bounds the disk a long file whose header tells no length can take."""

import threading

from fastapi.testclient import TestClient

from api.db import session_scope
from api.models import ApiKey
from api.settings import get_settings
from tests.api.helpers import headerless_mkv, submit, upload, wav_bytes

SUBMIT = "/v1/queue/audio/separate"


def balance() -> float:
    with session_scope(get_settings().database) as s:
        return s.query(ApiKey).one().credits


def _submit(client, h, fid):
    return client.post(SUBMIT, headers=h, json={"input": {"file_id": fid, "prompt": "the tone"}})


def test_credits_are_reserved_at_submit(client, make_key, run_worker):
    """1 s of credit and five 1 s files: one request is accepted, the balance never goes below zero."""
    h = make_key(credits=1)
    files = [upload(client, h, wav_bytes(1.0, seed=i)) for i in range(5)]
    codes = [_submit(client, h, fid) for fid in files]
    assert [r.status_code for r in codes] == [202, 402, 402, 402, 402], [r.text for r in codes]
    assert codes[1].json()["error"]["code"] == "INSUFFICIENT_CREDITS"
    assert balance() == 0.0  # held while queued
    run_worker()
    assert balance() == 0.0  # charged 1 s, exactly what was held


def test_concurrent_submits_share_one_balance(app, make_key):
    h = make_key(credits=1)
    client = TestClient(app)
    files = [upload(client, h, wav_bytes(1.0, seed=i)) for i in range(4)]
    codes: list[int] = []

    def go(fid: str) -> None:
        codes.append(TestClient(app).post(SUBMIT, headers=h, json={"input": {"file_id": fid,
                                                                             "prompt": "x"}}).status_code)

    threads = [threading.Thread(target=go, args=(fid,)) for fid in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [202, 402, 402, 402] and balance() == 0.0


def test_unknown_length_reserves_its_bound_and_gives_back_the_rest(client, make_key, run_worker, tmp_path):
    """No duration in the header: size at `min_bitrate` is held; completion charges the decoded length."""
    st = get_settings()
    h = make_key(credits=1000)
    data = headerless_mkv(tmp_path, 2.0)
    rid = submit(client, h, upload(client, h, data, content_type="video/x-matroska", name="clip.mkv"))
    assert balance() == 1000 - -(-len(data) * 8 // st.min_bitrate)
    run_worker()
    res = client.get(f"/v1/queue/requests/{rid}/result", headers=h).json()
    assert res["usage"]["quantity"] == 2 and balance() == 998.0


def test_failed_request_gives_its_reservation_back(client, make_key, run_worker):
    h = make_key(credits=5)
    rid = submit(client, h, upload(client, h, b"RIFF" + b"\0" * 400))  # unreadable: fails as bad input
    assert balance() == 4.0
    run_worker()
    assert client.get(f"/v1/queue/requests/{rid}/status", headers=h).json()["status"] == "FAILED"
    assert balance() == 5.0


def test_active_requests_are_capped_for_unmetered_keys(client, auth, run_worker, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_active_jobs", 2)
    files = [upload(client, auth, wav_bytes(0.5, seed=i)) for i in range(3)]
    assert [_submit(client, auth, fid).status_code for fid in files[:2]] == [202, 202]
    r = _submit(client, auth, files[2])
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_ACTIVE_REQUESTS", r.text
    run_worker()
    assert _submit(client, auth, files[2]).status_code == 202  # room again once they finished


def test_upload_quotas(client, auth, monkeypatch):
    st = get_settings()
    monkeypatch.setattr(st, "max_pending_files", 2)
    monkeypatch.setattr(st, "max_stored_bytes", 100_000)

    def create(size: int):
        return client.post("/v1/files", headers=auth, json={"file_name": "a.wav", "content_type": "audio/wav",
                                                             "file_size": size, "purpose": "audio.separate.input"})

    assert create(10).status_code == 201 and create(10).status_code == 201
    r = create(10)
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_PENDING_FILES", r.text
    monkeypatch.setattr(st, "max_pending_files", 10)
    assert upload(client, auth, wav_bytes(1.0))  # 32 kB stored
    assert create(60_000).status_code == 201  # 10 + 10 + 32 kB + 60 kB pending: under 100 kB
    r = create(10_000)
    assert r.status_code == 429 and r.json()["error"]["code"] == "STORAGE_QUOTA_EXCEEDED", r.text


def test_long_headerless_file_is_refused_with_the_workers_disk_bounded(client, auth, run_worker, tmp_path,
                                                                        monkeypatch):
    """30 s whose container tells no length, a 5 s limit: decoding stops just past 5 s, and the job fails."""
    import lasso.audio

    st = get_settings()
    monkeypatch.setattr(st, "max_duration", 5.0)
    real, decoded = lasso.audio._decode_to_wav, []

    def measured(path, out, *args):
        real(path, out, *args)
        decoded.append(out.stat().st_size)

    monkeypatch.setattr(lasso.audio, "_decode_to_wav", measured)
    rid = submit(client, auth, upload(client, auth, headerless_mkv(tmp_path, 30.0), content_type="video/x-matroska",
                                      name="long.mkv"))
    run_worker()
    status = client.get(f"/v1/queue/requests/{rid}/status?logs=true", headers=auth).json()
    assert status["status"] == "FAILED" and "AUDIO_TOO_LONG" in status["logs"][-1]["message"], status
    one_second = 8000 * 4  # float32 mono at 8 kHz
    assert decoded and decoded[0] <= 6 * one_second + 4096, decoded  # 30 s would be 960 kB
