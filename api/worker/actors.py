"""The actors: `separate_job` runs one separation; `deliver_webhook` posts the terminal event.

Retry policy is declared on the actors and enforced by Dramatiq's Retries middleware: bad input (LassoError) fails at
once with its code (`throws`); infrastructure faults are retried while `retry_when` says so, with Dramatiq's backoff,
and then `on_retry_exhausted` fails the job; an attempt is stopped after `job_time_limit`. A failed webhook attempt
raises `dramatiq.Retry`, so Dramatiq's backoff spaces the next. A message delivered twice finds the job claimed or
terminal and does nothing (see `jobs.claim`).
"""

import json
import logging
import tempfile
import threading
import time
from pathlib import Path

import dramatiq
from dramatiq.middleware import TimeLimitExceeded

from api import crud, webhooks
from api.filenames import local_input_name
from api.settings import get_settings
from api.timeutil import utcnow
from api.views import event_view
from api.worker import jobs
from api.worker.broker import SEPARATE_QUEUE, WEBHOOK_QUEUE, enqueue_webhook, get_broker
from api.worker.context import ModelUnavailable, get_context
from api.worker.middleware import (
    Maintenance,
    OneMessagePerThread,
    PublishJobChanges,
    SeparatorLoader,
    StopWithMaster,
    WebhookThreads,
)
from lasso import LassoError

log = logging.getLogger("api.worker")
settings = get_settings()
broker = get_broker(settings)
for middleware in (StopWithMaster(), OneMessagePerThread(), PublishJobChanges(), SeparatorLoader(), Maintenance(),
                   WebhookThreads()):
    if not any(type(m) is type(middleware) for m in broker.middleware):
        broker.add_middleware(middleware)


class Heartbeat(threading.Thread):
    """Keeps the job's lease fresh while the model runs, so the reconciler knows this worker is alive."""

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.worker_id, self.stop, self.lost = job_id, worker_id, threading.Event(), False

    def run(self) -> None:
        ctx = get_context()
        while not self.stop.wait(ctx.settings.heartbeat_interval):
            try:
                with ctx.sessions() as s:
                    self.lost = not jobs.heartbeat(s, job_id=self.job_id, worker_id=self.worker_id)
            except Exception:  # a DB hiccup: try again next beat
                log.exception("heartbeat failed for %s", self.job_id)


def _progress_logger(job_id: str):
    """Turn the library's progress dicts into a few job log lines (stage changes and chunks)."""
    ctx, last = get_context(), {"key": None}

    def progress(event: dict) -> None:
        key = (event.get("stage"), event.get("chunk"))
        if key == last["key"]:
            return
        last["key"] = key
        chunk = f" chunk {event['chunk']}/{event['chunks']}" if event.get("chunks") else ""
        with ctx.sessions() as s:
            crud.add_log(s, job_id=job_id, message=f"{event.get('stage', 'running')}{chunk} "
                                                   f"({100 * float(event.get('fraction', 0)):.0f}%)")
            s.commit()

    return progress


def _run(job, worker_id: str) -> dict:
    """Download the input, separate it, upload the outputs; the job's `result` dict."""
    from lasso import SeparationOptions, separate_file

    ctx = get_context()
    separator = ctx.separator()
    with tempfile.TemporaryDirectory(prefix=f"{job.id}.") as tmp:
        src = ctx.storage.get_file(job.input_key, Path(tmp) / local_input_name(job.input_name))
        fmt = job.params["output_format"]
        out = separate_file(separator, src, Path(tmp) / "out", job.params["prompt"],
                            SeparationOptions.from_dict(job.params["options"]),
                            output_format=fmt, progress=_progress_logger(job.id))
        result = {"format": fmt, "duration": out.duration, "sample_rate": out.sample_rate, "channels": out.channels}
        for name, path in (("target", out.target), ("residual", out.residual), ("target_video", out.target_video),
                           ("residual_video", out.residual_video)):
            if path is not None:
                key = f"outputs/{job.id}/{Path(path).name}"
                ctx.storage.put_file(key, Path(path))
                result[name] = key
        return result


def _terminal(job_id: str) -> None:
    """After COMPLETED/FAILED: the webhook, if the client asked for one."""
    ctx = get_context()
    with ctx.sessions() as s:
        job = crud.get_job(s, job_id=job_id, owner_id=None)
        has_webhook = job is not None and job.webhook is not None
    if has_webhook:
        enqueue_webhook(ctx.broker, job_id, ctx.settings)


def retry_separation(retries: int, exc: BaseException) -> bool:
    """`retry_when` of separate_job: an infrastructure or model fault is retried `job_max_retries` times.

    Bad input never reaches here (`throws`), nor a timed-out attempt (it fails as JOB_TIMEOUT).
    """
    return retries < get_context().settings.job_max_retries


@dramatiq.actor(actor_name="separation_exhausted", queue_name=WEBHOOK_QUEUE, max_retries=3)
def separation_exhausted(message: dict, retry_info: dict) -> None:
    """`on_retry_exhausted` of separate_job: the job FAILS with its last error, as MODEL_LOAD_FAILED when the worker
    could not load its model (ModelUnavailable), else MODEL_FAILED."""
    ctx, job_id = get_context(), message["args"][0]
    lines = (message.get("options", {}).get("traceback") or "").strip().splitlines()
    error = lines[-1] if lines else "the separation failed"
    code = ModelUnavailable.code if ModelUnavailable.__name__ in error else "MODEL_FAILED"
    with ctx.sessions() as s:
        failed = jobs.fail(s, job_id=job_id, code=code, retention=ctx.settings.result_retention,
                           message=f"{error} (after {retry_info.get('retries', 0) + 1} attempts)",
                           statuses=("IN_QUEUE",))  # as its last attempt left it; not if another worker took it
    if failed:
        _terminal(job_id)


@dramatiq.actor(actor_name="separate_job", queue_name=SEPARATE_QUEUE, retry_when=retry_separation,
                on_retry_exhausted="separation_exhausted", time_limit=int(settings.job_time_limit * 1000),
                throws=(LassoError,), min_backoff=2_000, max_backoff=120_000)
def separate_job(job_id: str) -> None:
    ctx, worker_id = get_context(), get_context().worker_id()
    st = ctx.settings
    with ctx.sessions() as s:
        job = jobs.claim(s, job_id=job_id, worker_id=worker_id, stale_after=st.job_stale_after)
    if job is None:
        log.info("job %s is terminal or held by another worker: duplicate message skipped", job_id)
        return
    if job.attempts > st.job_max_attempts:
        with ctx.sessions() as s:
            jobs.fail(s, job_id=job_id, worker_id=worker_id, code="WORKER_LOST", retention=st.result_retention,
                      message=f"the job was started {job.attempts - 1} times and its worker was lost each time")
        return _terminal(job_id)
    beat = Heartbeat(job_id, worker_id)
    beat.start()
    t0 = time.monotonic()
    try:
        result = _run(job, worker_id)
    except LassoError as exc:  # the input is unusable: fail now, never retry
        with ctx.sessions() as s:
            jobs.fail(s, job_id=job_id, worker_id=worker_id, code=exc.code, message=exc.message,
                      retention=st.result_retention)
        _terminal(job_id)
        raise
    except TimeLimitExceeded:
        with ctx.sessions() as s:
            jobs.fail(s, job_id=job_id, worker_id=worker_id, code="JOB_TIMEOUT", retention=st.result_retention,
                      message=f"the separation took longer than {st.job_time_limit:g} s")
        return _terminal(job_id)
    except Exception as exc:  # infrastructure or model fault: back in the queue; Dramatiq retries or gives up
        with ctx.sessions() as s:
            jobs.release(s, job_id=job_id, worker_id=worker_id,
                         message=f"attempt failed ({type(exc).__name__}: {exc}); back in the queue")
        raise
    finally:
        beat.stop.set()
    with ctx.sessions() as s:
        done = jobs.complete(s, job=job, worker_id=worker_id, result=result, retention=st.result_retention)
    if done:
        log.info("job %s completed in %.1f s", job_id, time.monotonic() - t0)
        _terminal(job_id)
    else:  # lease lost while running: someone else owns the job now; drop our outputs' claim
        log.warning("job %s finished after its lease was lost; result discarded", job_id)


def retry_webhook(retries: int, exc: BaseException) -> bool:
    """`retry_when` of deliver_webhook: only a failed delivery (`Retry`) is sent again, and the delivery row bounds
    how often. Anything else leaves the delivery `sending`, as a dead worker does, for maintenance to re-send."""
    return isinstance(exc, dramatiq.Retry)


@dramatiq.actor(actor_name="deliver_webhook", queue_name=WEBHOOK_QUEUE, time_limit=120_000, retry_when=retry_webhook)
def deliver_webhook(job_id: str) -> None:
    """One delivery attempt; a failed one raises `dramatiq.Retry`, and Dramatiq's backoff schedules the next.

    The delivery row counts attempts (maintenance's re-sends of lost attempts included) and says when to stop;
    the backoff options ride on the message (`broker.enqueue_webhook`).
    """
    ctx = get_context()
    st = ctx.settings
    with ctx.sessions() as s:
        job = crud.get_job(s, job_id=job_id, owner_id=None)
        d = job.webhook if job is not None else None
        if d is None or d.status in ("delivered", "failed") or job.status not in ("COMPLETED", "FAILED"):
            return
        if d.payload is None:  # built once, so every retry sends the same id and body
            d.payload = json.dumps(event_view(job, ctx.storage, job.base_url), separators=(",", ":"))
            d.message_id = crud.new_id("msg")
        d.status, d.sending_at = "sending", utcnow()  # the lease maintenance.reconcile_webhooks watches
        s.commit()
        url, body, secret, msg_id = d.url, d.payload, d.secret, d.message_id
    error = webhooks.deliver(url, body, secret=secret, msg_id=msg_id, timeout=st.webhook_timeout,
                             allow_loopback=st.allow_loopback_urls)
    with ctx.sessions() as s:
        d = crud.get_job(s, job_id=job_id, owner_id=None).webhook
        d.attempts, d.sending_at = d.attempts + 1, None
        if error is None:
            d.status, d.delivered_at, d.last_error = "delivered", utcnow(), None
        else:
            d.last_error = error
            d.status = "failed" if d.attempts >= st.webhook_max_attempts else "pending"
        s.commit()
        status = d.status
    if status == "pending":
        raise dramatiq.Retry(f"webhook of {job_id} not delivered: {error}")
