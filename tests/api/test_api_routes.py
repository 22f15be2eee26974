"""Routes in-process on a StubBroker: auth and scopes, files and the signed PUT, submit validation, every 4xx."""

import json
import time
from pathlib import Path

import pytest

from api.spec import SPEC_PATH
from tests.api.helpers import submit, upload, wav_bytes

SHARED_SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "openapi.json"
FILE_BODY = {"file_name": "a.wav", "content_type": "audio/wav", "file_size": 1000, "purpose": "audio.separate.input"}


def err(r, status: int, code: str | None = None, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) <= {"code", "message", "param", "request_id"} and e["message"]
    if code:
        assert e["code"] == code, e
    if param:
        assert e.get("param") == param, e
    return e


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="../shared/openapi.json not present")
def test_served_spec_is_the_shared_contract(client):
    assert json.loads(SPEC_PATH.read_text()) == json.loads(SHARED_SPEC.read_text())
    r = client.get("/v1/openapi.json")
    assert r.status_code == 200 and r.json() == json.loads(SHARED_SPEC.read_text())


def test_auth_401_and_scopes_403(client, make_key):
    err(client.get("/v1/models"), 401, "INVALID_API_KEY")
    err(client.get("/v1/models", headers={"Authorization": "Bearer nope"}), 401, "INVALID_API_KEY")
    err(client.get("/v1/models", headers={"Authorization": "Basic abc"}), 401)
    only_files = make_key(["files:write"])
    err(client.get("/v1/models", headers=only_files), 403, "INSUFFICIENT_SCOPE")
    err(client.get("/v1/files/file_x", headers=only_files), 403)
    err(client.post("/v1/files", headers=make_key(["files:read"]), json=FILE_BODY), 403)
    err(client.post("/v1/queue/audio/separate", headers=only_files, json={"input": {"prompt": "x"}}), 403)
    for path in ("status", "status/stream", "result"):
        err(client.get(f"/v1/queue/requests/req_x/{path}", headers=only_files), 403)


def test_revoked_key_is_401_once_the_key_cache_forgets_it(client):
    """Verified keys are cached per process for LASSO_KEY_CACHE_TTL; a metered key (its balance matters) is not."""
    from api import crud
    from api.db import session_scope
    from api.settings import get_settings

    client.app.state.key_cache.ttl = 0.5
    with session_scope(get_settings().database) as s:
        key, secret = crud.create_api_key(s, scopes=["models:read"])
        metered, metered_secret = crud.create_api_key(s, scopes=["models:read"], credits=10)
    h, hm = {"Authorization": f"Bearer {secret}"}, {"Authorization": f"Bearer {metered_secret}"}
    assert client.get("/v1/models", headers=h).status_code == 200
    assert client.get("/v1/models", headers=hm).status_code == 200
    revoked_at = time.monotonic()
    with session_scope(get_settings().database) as s:
        assert crud.revoke_api_key(s, key_id=key.id) and crud.revoke_api_key(s, key_id=metered.id)
    err(client.get("/v1/models", headers=hm), 401)
    assert client.get("/v1/models", headers=h).status_code == 200  # served from the cache: no lookup
    assert time.monotonic() - revoked_at < 0.5
    time.sleep(0.6)
    err(client.get("/v1/models", headers=h), 401)


def test_models(client, auth):
    body = client.get("/v1/models", headers=auth).json()
    assert body["object"] == "list" and body["data"][0]["id"] == "audio/separate"
    m = body["data"][0]
    assert m["object"] == "model" and "prompt" in json.dumps(m["input"]) and "target" in m["output"]["properties"]


def test_create_file_validation(client, auth):
    r = client.post("/v1/files", headers=auth, json=FILE_BODY)
    assert r.status_code == 201
    b = r.json()
    assert b["upload_method"] == "PUT" and b["headers"] == {"content-type": "audio/wav"} and b["file_id"]
    assert b["expires_at"].endswith("Z") and b["retention"]["delete_after"] > b["expires_at"]
    err(client.post("/v1/files", headers=auth, json=FILE_BODY | {"file_size": 524288001}), 400, param="file_size")
    err(client.post("/v1/files", headers=auth, json=FILE_BODY | {"file_size": 0}), 400, param="file_size")
    err(client.post("/v1/files", headers=auth, json=FILE_BODY | {"file_size": "12"}), 400, param="file_size")
    err(client.post("/v1/files", headers=auth, json=FILE_BODY | {"purpose": "other"}), 400, param="purpose")
    err(client.post("/v1/files", headers=auth, json={k: v for k, v in FILE_BODY.items() if k != "file_name"}),
        400, "INVALID_REQUEST", "file_name")
    err(client.post("/v1/files", headers=auth, content=b"{not json", ), 400)
    err(client.post("/v1/files", headers=auth, json=FILE_BODY | {"content_type": "text/plain"}), 415,
        "UNSUPPORTED_MEDIA_TYPE", "content_type")


def test_file_states_and_ownership(client, auth, make_key):
    fid = client.post("/v1/files", headers=auth, json=FILE_BODY).json()["file_id"]
    f = client.get(f"/v1/files/{fid}", headers=auth).json()
    assert f["status"] == "pending" and f["uploaded_at"] is None and f["file_size"] == 1000
    err(client.get(f"/v1/files/{fid}", headers=make_key()), 404, "FILE_NOT_FOUND")
    err(client.get("/v1/files/file_nope", headers=auth), 404)
    fid = upload(client, auth, wav_bytes())
    f = client.get(f"/v1/files/{fid}", headers=auth).json()
    assert f["status"] == "uploaded" and f["uploaded_at"]


def _upload_url(client, auth, **over) -> tuple[str, str]:
    b = client.post("/v1/files", headers=auth, json=FILE_BODY | over).json()
    return b["file_id"], b["upload_url"].replace("http://testserver", "")


def test_signed_put_enforcement(client, auth):
    _, url = _upload_url(client, auth)
    err(client.put(url.replace("signature=", "signature=0"), content=b"x" * 1000,
                   headers={"content-type": "audio/wav"}), 403, "INVALID_SIGNATURE")
    err(client.put(url.split("?")[0], content=b"x" * 1000, headers={"content-type": "audio/wav"}), 403)
    tampered = url.replace("expires=", "expires=9")
    err(client.put(tampered, content=b"x" * 1000, headers={"content-type": "audio/wav"}), 403, "INVALID_SIGNATURE")
    err(client.put(url, content=b"x" * 1000, headers={"content-type": "text/plain"}), 415)
    err(client.put(url, content=b"x" * 1000, headers={"content-type": "audio/mpeg"}), 415)
    err(client.put(url, content=b"x" * 1001, headers={"content-type": "audio/wav"}), 413, "FILE_TOO_LARGE")

    def chunks():  # no content-length: the limit is enforced while streaming
        for _ in range(3):
            yield b"y" * 600

    err(client.put(url, content=chunks(), headers={"content-type": "audio/wav"}), 413)
    err(client.put(url, content=b"x" * 999, headers={"content-type": "audio/wav"}), 400, "FILE_SIZE_MISMATCH")
    assert client.put(url, content=b"x" * 1000, headers={"content-type": "audio/wav"}).status_code == 200
    err(client.put(url, content=b"x" * 1000, headers={"content-type": "audio/wav"}), 409, "FILE_ALREADY_UPLOADED")


def test_expired_upload_url(client, auth, monkeypatch):
    from api.settings import get_settings

    monkeypatch.setattr(get_settings(), "upload_url_ttl", 1)
    fid, url = _upload_url(client, auth)
    time.sleep(2.1)
    err(client.put(url, content=b"x" * 1000, headers={"content-type": "audio/wav"}), 403, "URL_EXPIRED")
    assert client.get(f"/v1/files/{fid}", headers=auth).json()["status"] == "expired"
    r = client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"file_id": fid, "prompt": "x"}})
    err(r, 410, "FILE_EXPIRED", "input.file_id")


@pytest.mark.parametrize("inp, param", [
    ({}, "input"),
    ({"prompt": "x"}, "input"),  # neither source
    ({"prompt": "x", "file_id": "f", "audio_url": "https://example.com/a.wav"}, "input"),  # both
    ({"file_id": "f"}, "input.prompt"),
    ({"file_id": "f", "prompt": ""}, "input.prompt"),
    ({"file_id": "f", "prompt": "x" * 501}, "input.prompt"),
    ({"file_id": "f", "prompt": 3}, "input.prompt"),
    ({"file_id": "f", "prompt": "x", "acceleration": "warp"}, "input.acceleration"),
    ({"file_id": "f", "prompt": "x", "reranking_candidates": 9}, "input.reranking_candidates"),
    ({"file_id": "f", "prompt": "x", "reranking_candidates": "2"}, "input.reranking_candidates"),
    ({"file_id": "f", "prompt": "x", "max_chunk_duration": 0}, "input.max_chunk_duration"),
    ({"file_id": "f", "prompt": "x", "chunk_overlap": 31}, "input.chunk_overlap"),
    ({"file_id": "f", "prompt": "x", "output_format": "flac"}, "input.output_format"),
    ({"file_id": "f", "prompt": "x", "predict_spans": "yes"}, "input.predict_spans"),
    ({"file_id": "f", "prompt": "x", "spans": [{"start": -1, "end": 2}]}, "input.spans.0.start"),
    ({"file_id": "f", "prompt": "x", "spans": [{"start": 3, "end": 2}]}, "input.spans.0.end"),
    ({"file_id": None, "prompt": "x"}, "input"),
])
def test_submit_400_names_the_param(client, auth, inp, param):
    body = {"input": inp} if inp != {} else {}
    err(client.post("/v1/queue/audio/separate", headers=auth, json=body), 400, param=param)


def test_submit_top_level_400s(client, auth):
    fid = upload(client, auth, wav_bytes())
    ok = {"input": {"file_id": fid, "prompt": "x"}}
    err(client.post("/v1/queue/audio/separate", headers=auth, json=ok | {"webhookSecret": "short"}), 400,
        param="webhookSecret")
    err(client.post("/v1/queue/audio/separate", headers=auth, json=ok | {"webhookUrl": "http://example.com/h"}), 400,
        "INVALID_WEBHOOK_URL", "webhookUrl")
    err(client.post("/v1/queue/audio/separate", headers=auth, json=ok | {"metadata": [1]}), 400, param="metadata")
    err(client.post("/v1/queue/audio/separate", headers=auth, json=ok | {"metadata": {"x": "y" * 20000}}), 400,
        param="metadata")
    err(client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"file_id": "file_nope", "prompt": "x"}}),
        400, "FILE_NOT_FOUND", "input.file_id")
    err(client.post("/v1/queue/audio/separate", headers=auth, content=b"[]"), 400)


def test_submit_409_not_uploaded_and_other_keys_file(client, auth, make_key):
    fid = client.post("/v1/files", headers=auth, json=FILE_BODY).json()["file_id"]
    r = client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"file_id": fid, "prompt": "x"}})
    err(r, 409, "FILE_NOT_UPLOADED", "input.file_id")
    r = client.post("/v1/queue/audio/separate", headers=make_key(), json={"input": {"file_id": fid, "prompt": "x"}})
    err(r, 400, "FILE_NOT_FOUND")


def test_submit_402_without_credits(client, make_key):
    h = make_key(credits=0)
    fid = upload(client, h, wav_bytes())
    err(client.post("/v1/queue/audio/separate", headers=h, json={"input": {"file_id": fid, "prompt": "x"}}), 402,
        "INSUFFICIENT_CREDITS")


def test_submit_413_when_the_media_is_too_long(client, auth, tmp_path, monkeypatch):
    from api.db import session_scope
    from api.models import Job
    from api.settings import get_settings
    from tests.api.helpers import mp3_bytes

    long_wav, long_mp3 = upload(client, auth, wav_bytes(3.0)), upload(
        client, auth, mp3_bytes(tmp_path, 3.0), content_type="audio/mpeg", name="clip.mp3")
    short, corrupt = upload(client, auth, wav_bytes(1.0)), upload(client, auth, b"RIFF" + bytes(range(256)) * 8)
    monkeypatch.setattr(get_settings(), "max_duration", 2.0)
    for fid in (long_wav, long_mp3):
        r = client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"file_id": fid, "prompt": "x"}})
        e = err(r, 413, "AUDIO_TOO_LONG", "input.file_id")
        assert "3.0 s long" in e["message"] and "limit is 2 s" in e["message"]
    assert submit(client, auth, short)
    assert submit(client, auth, corrupt)  # an unreadable header is the worker's to judge (INVALID_AUDIO)
    with session_scope(get_settings().database) as s:
        assert s.query(Job).count() == 2  # no job for the refused media


def test_submit_then_status_and_result_409(client, auth, make_key, fake_dns):
    fid = upload(client, auth, wav_bytes())
    r = client.post("/v1/queue/audio/separate", headers=auth,
                    json={"input": {"file_id": fid, "prompt": "x"}, "webhookUrl": "https://example.com/hook",
                          "metadata": {"order": 7}})
    assert r.status_code == 202
    b = r.json()
    assert b["status"] == "IN_QUEUE" and b["model"] == "audio/separate" and b["request_id"].startswith("req_")
    assert b["status_url"].endswith(f"/v1/queue/requests/{b['request_id']}/status")
    assert b["stream_url"].endswith("/status/stream") and b["result_url"].endswith("/result")
    assert b["webhook"]["url"] == "https://example.com/hook" and b["webhook"]["signing_secret"].startswith("whsec_")
    rid = b["request_id"]
    s = client.get(f"/v1/queue/requests/{rid}/status", headers=auth).json()
    assert s["status"] == "IN_QUEUE" and "logs" not in s and s["result_url"] == b["result_url"]
    assert s["webhook"] == {"delivery_status": "pending", "attempts": 0, "delivered_at": None, "last_error": None}
    assert client.get(f"/v1/queue/requests/{rid}/status?logs=true", headers=auth).json()["logs"][0]["message"]
    err(client.get(f"/v1/queue/requests/{rid}/result", headers=auth), 409, "REQUEST_NOT_COMPLETED")
    other = make_key()
    for path in ("status", "status/stream", "result"):
        err(client.get(f"/v1/queue/requests/{rid}/{path}", headers=other), 404, "REQUEST_NOT_FOUND")
    r = client.post("/v1/queue/audio/separate", headers=auth,
                    json={"input": {"file_id": fid, "prompt": "x"}, "webhookUrl": "https://example.com/h",
                          "webhookSecret": "my-own-secret-0123456789"})
    assert "signing_secret" not in r.json()["webhook"]


def test_unknown_route_and_method_use_error_body(client, auth):
    err(client.get("/v1/nothing", headers=auth), 404, "NOT_FOUND")
    err(client.delete("/v1/models", headers=auth), 405, "METHOD_NOT_ALLOWED")


def test_docs_show_the_contract(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["paths"].keys() == json.loads(SPEC_PATH.read_text())["paths"].keys()


def test_submit_500_when_queue_down(client, auth, monkeypatch):
    fid = upload(client, auth, wav_bytes())

    def boom(*a, **k):
        raise ConnectionError("redis down")

    monkeypatch.setattr("api.routes.queue.enqueue_separation", boom)
    err(client.post("/v1/queue/audio/separate", headers=auth, json={"input": {"file_id": fid, "prompt": "x"}}), 500,
        "SERVICE_UNAVAILABLE")
    monkeypatch.undo()
    assert submit(client, auth, fid)
