"""Submit a separation, then follow it: status (with logs), a Server-Sent-Events stream, the result."""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api import crud, quotas, submit
from api.deps import AudioCaller, SessionDep, SettingsDep, StorageDep, base_url
from api.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from api.events import JobWatch, redis_url
from api.schemas import SubmitAudioSeparateRequest
from api.timeutil import iso
from api.views import MODEL_ID, request_urls, result_view, status_view
from api.worker.broker import enqueue_separation

router = APIRouter(tags=["Queue"])
TERMINAL = ("COMPLETED", "FAILED")
SAFETY_POLL = 30.0  # s between reads of a followed job when change notices arrive (a lost one costs this)


@router.post("/v1/queue/audio/separate", status_code=202)
def submit_audio_separate(body: SubmitAudioSeparateRequest, request: Request, key: AudioCaller,
                          session: SessionDep, settings: SettingsDep, storage: StorageDep) -> JSONResponse:
    submit.check_request(body, key, settings)
    quotas.check_active_jobs(session, key, settings)  # before a download; checked again under the key's lock
    secret, generated = submit.webhook_secret(body)
    job_id = crud.new_id("req")
    if body.input.file_id is not None:
        media = submit.file_source(session, key, body.input.file_id, settings)
    else:
        with request.app.state.fetches.take(key.id, settings.max_fetches_per_key):  # each holds a thread
            media = submit.url_source(body.input.audio_url, job_id, settings, storage)

    def drop_copy() -> None:  # a refused request keeps nothing: no job, no reservation, no fetched copy
        if body.input.audio_url is not None:
            storage.delete_prefix(f"jobs/{job_id}/")

    base = base_url(request, settings)
    try:
        reserved = quotas.admit_job(session, key, quotas.estimate_seconds(media.duration, media.size, settings),
                                    settings)
        job = crud.create_job(session, job_id=job_id, owner_id=key.id, params=body.input.job_params(),
                              input_key=media.key, input_name=media.name, base_url=base, metadata=body.metadata,
                              webhook_url=body.webhook_url, webhook_secret=secret, reserved=reserved)
        session.commit()
    except Exception:
        session.rollback()
        drop_copy()
        raise
    try:
        enqueue_separation(request.app.state.broker, job.id)
    except Exception as exc:  # broker down: don't leave a job that nothing will run
        session.delete(job)
        crud.settle_credits(session, key_id=key.id, reserved=reserved or 0, charged=0)
        session.commit()
        drop_copy()
        raise ServiceUnavailable(f"the queue is unavailable, try again: {type(exc).__name__}") from exc
    out = {"request_id": job.id, "status": "IN_QUEUE", "model": MODEL_ID, "created_at": iso(job.created_at),
           **request_urls(base, job.id)}
    if body.webhook_url is not None:
        out["webhook"] = {"url": body.webhook_url} | ({"signing_secret": secret} if generated else {})
    return JSONResponse(out, status_code=202)


def _own_job(session, key, request_id: str):
    job = crud.get_job(session, job_id=request_id, owner_id=key.id)
    if job is None:
        raise NotFound(f"no request {request_id!r}", code="REQUEST_NOT_FOUND", param="request_id")
    return job


def _flag(value: str | None, name: str) -> bool:
    """Query booleans, parsed after the request is found (so an unknown request is a 404 whatever the query)."""
    if value is None or value.lower() in ("false", "0", "no", "off", ""):
        return False
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    raise InvalidRequest(f"{name} must be true or false", param=name)


def _interval(value: str | None) -> float:
    """Seconds between polls, clamped to 1..10 as the spec says."""
    try:
        seconds = 2.0 if value is None else float(value)
    except ValueError as exc:
        raise InvalidRequest("interval must be a number of seconds", param="interval") from exc
    return min(10.0, max(1.0, seconds)) if math.isfinite(seconds) else 2.0


@router.get("/v1/queue/requests/{request_id}/status")
def get_status(request_id: str, request: Request, key: AudioCaller, session: SessionDep, settings: SettingsDep,
               logs: str | None = None) -> JSONResponse:
    job = _own_job(session, key, request_id)
    # a Response, not a dict: FastAPI would validate a dict in its thread pool while the session still holds its
    # connection, and under load those requests could hold every pooled connection while waiting for a thread
    return JSONResponse(status_view(job, base_url(request, settings), logs=_flag(logs, "logs")))


@router.get("/v1/queue/requests/{request_id}/status/stream")
def stream_status(request_id: str, request: Request, key: AudioCaller, session: SessionDep,
                  settings: SettingsDep, logs: str | None = None, interval: str | None = None) -> StreamingResponse:
    _own_job(session, key, request_id)  # 404 before the stream starts
    session.close()  # an open stream holds no database connection (each read below takes one for a moment)
    logs_on, interval_s = _flag(logs, "logs"), _interval(interval)
    slot = request.app.state.streams.take(key.id, settings.max_streams_per_key)  # 429 past the key's cap
    base, sessionmaker, owner = base_url(request, settings), request.app.state.sessionmaker, key.id
    watch = _job_watch(request, settings)

    def snapshot() -> dict | None:
        with sessionmaker() as s:
            job = crud.get_job(s, job_id=request_id, owner_id=owner)
            return status_view(job, base, logs=logs_on) if job is not None else None

    async def events() -> AsyncIterator[str]:
        deadline, last = time.monotonic() + settings.stream_window, None
        with watch.watching(request_id) as changed:
            while True:
                changed.clear()  # before the read: a change committed after it wakes the wait below
                try:
                    body = await run_in_threadpool(snapshot)
                except Exception as exc:  # report on the stream: the 200 is already sent
                    yield _sse("error", {"error": {"code": "INTERNAL_ERROR", "message": str(exc)[:300]}})
                    return
                if body is None:
                    yield _sse("error", {"error": {"code": "REQUEST_NOT_FOUND", "message": "the request was deleted"}})
                    return
                if body != last:
                    yield _sse("status", body)
                    last = body
                if body["status"] in TERMINAL:
                    return
                # with notices, the database is read again on a notice (or every SAFETY_POLL s); without, every
                # `interval`. A keep-alive comment goes out every `interval` either way.
                read_at = time.monotonic() + (SAFETY_POLL if watch.live else interval_s)
                while not changed.is_set() and time.monotonic() < min(read_at, deadline):
                    yield ": keep-alive\n\n"
                    wait = min(interval_s, read_at - time.monotonic(), deadline - time.monotonic())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), max(wait, 0.0))
                if time.monotonic() >= deadline:
                    yield _sse("timeout", {"request_id": request_id, "status": body["status"],
                                           "message": f"stream window of {settings.stream_window:g} s ended; "
                                                      "reconnect"})
                    return

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(slot.hold(events()), media_type="text/event-stream", headers=headers,
                             background=BackgroundTask(slot.release))


def _job_watch(request: Request, settings) -> JobWatch:
    """The API process's one subscription to job-change notices (made on the first stream)."""
    state = request.app.state
    if getattr(state, "job_watch", None) is None:
        state.job_watch = JobWatch(redis_url(settings))
    return state.job_watch


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/v1/queue/requests/{request_id}/result")
def get_result(request_id: str, request: Request, key: AudioCaller, session: SessionDep, settings: SettingsDep,
               storage: StorageDep) -> JSONResponse:
    job = _own_job(session, key, request_id)
    if job.status == "FAILED":
        raise Conflict(f"the request failed ({job.error_code}): {job.error_message}", code="REQUEST_FAILED",
                       request_id=job.id)
    if job.status != "COMPLETED":
        raise Conflict(f"the request is {job.status}; the result exists once it is COMPLETED",
                       code="REQUEST_NOT_COMPLETED", request_id=job.id)
    if job.outputs_deleted:
        raise NotFound("the outputs were deleted after their retention time", code="RESULT_EXPIRED",
                       request_id=job.id)
    return JSONResponse(result_view(job, storage, base_url(request, settings)))  # a Response: see get_status
