"""A model that fails to load is a service error: the job is retried and the model loaded again after a back-off,
so a transient read error heals; only when the retries run out does the job fail, as MODEL_LOAD_FAILED."""

import threading

import pytest

from api.settings import get_settings
from api.worker.context import ModelUnavailable, get_context
from lasso import LassoError, save_checkpoint
from lasso.models import build_model
from tests.api.helpers import submit, upload, wav_bytes


def status(client, auth, rid: str) -> dict:
    return client.get(f"/v1/queue/requests/{rid}/status?logs=true", headers=auth).json()


def test_a_failed_load_is_retried_after_a_back_off(lasso_env, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    path.write_bytes(b"half a file")  # unreadable: as if read while being copied
    monkeypatch.setattr(get_settings(), "checkpoint", str(path))
    ctx = get_context()
    with pytest.raises(ModelUnavailable) as first:
        ctx.separator()
    assert not isinstance(first.value, LassoError) and first.value.code == "MODEL_LOAD_FAILED"
    save_checkpoint(path, build_model("separator", "debug"))
    with pytest.raises(ModelUnavailable, match="next load attempt in"):  # within the back-off: not tried again
        ctx.separator()
    monkeypatch.setattr(ctx, "_retry_at", 0.0)  # the back-off has passed
    assert ctx.separator() is ctx.separator()  # loaded once, kept


def test_job_survives_a_transient_load_failure(client, auth, run_worker, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    path.write_bytes(b"half a file")
    monkeypatch.setattr(get_settings(), "checkpoint", str(path))
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    # the file is complete a moment later, before Dramatiq's first retry (>= 2 s)
    timer = threading.Timer(0.5, save_checkpoint, (path, build_model("separator", "debug")))
    timer.start()
    run_worker()
    timer.join()
    s = status(client, auth, rid)
    assert s["status"] == "COMPLETED", s
    assert any("ModelUnavailable" in log["message"] and "back in the queue" in log["message"]
               for log in s["logs"]), s


def test_job_fails_as_model_load_failed_when_retries_run_out(client, auth, run_worker, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "checkpoint", str(tmp_path / "missing.pt"))
    rid = submit(client, auth, upload(client, auth, wav_bytes()))
    run_worker()
    s = status(client, auth, rid)
    assert s["status"] == "FAILED", s
    result = client.get(f"/v1/queue/requests/{rid}/result", headers=auth).json()
    assert "MODEL_LOAD_FAILED" in result["error"]["message"], result
    # every failed attempt puts the job back; the last one is then failed by on_retry_exhausted
    assert sum("back in the queue" in log["message"] for log in s["logs"]) == get_settings().job_max_retries + 1
