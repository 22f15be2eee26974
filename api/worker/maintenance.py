"""Reconciliation and retention: what keeps the queue honest when workers die and storage from filling up.

- IN_PROGRESS jobs whose heartbeat is older than `job_stale_after`: their worker died. They go back to IN_QUEUE with
  a fresh message (Dramatiq's Redis broker also requeues the dead worker's unacked message; whichever arrives first
  claims the job, the other is skipped), or FAIL as WORKER_LOST after `job_max_attempts`.
- IN_QUEUE jobs untouched for `queued_requeue_after`: their message is sent again (a lost enqueue never strands them).
- Webhook deliveries `sending` for longer than `webhook_stale_after`: their worker died mid-POST. They are sent again,
  the lost attempt counted, or FAIL once `webhook_max_attempts` are used up.
- Inputs, outputs and records past their retention are deleted.
"""

import logging
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, case, delete, or_, select, update
from sqlalchemy.orm import Session

from api.models import Job, StoredFile, WebhookDelivery
from api.timeutil import utcnow
from api.worker import jobs
from api.worker.broker import enqueue_separation, enqueue_webhook
from api.worker.context import get_context

log = logging.getLogger("api.worker")


def reconcile() -> list[str]:
    """Requeue or fail orphaned jobs; return the ids acted on."""
    ctx = get_context()
    st, now, acted = ctx.settings, utcnow(), []
    stale = now - timedelta(seconds=st.job_stale_after)
    with ctx.sessions() as s:
        orphans = list(s.scalars(select(Job).where(Job.status == "IN_PROGRESS", Job.heartbeat_at < stale)))
        for job in orphans:
            if job.attempts >= st.job_max_attempts:
                if jobs.fail(s, job_id=job.id, code="WORKER_LOST", retention=st.result_retention, stale_before=stale,
                             message=f"the worker running this job stopped responding {job.attempts} times"):
                    acted.append(job.id)
                    if job.webhook is not None:
                        enqueue_webhook(ctx.broker, job.id, st)
            elif jobs.release(s, job_id=job.id, worker_id=None, stale_before=stale,
                              message="worker stopped responding; requeued"):
                acted.append(job.id)
                enqueue_separation(ctx.broker, job.id)
        old = now - timedelta(seconds=st.queued_requeue_after)
        waiting = list(s.scalars(select(Job.id).where(Job.status == "IN_QUEUE", Job.updated_at < old)))
        for job_id in waiting:
            res = s.execute(update(Job).where(Job.id == job_id, Job.status == "IN_QUEUE", Job.updated_at < old)
                            .values(updated_at=now))
            s.commit()
            if res.rowcount == 1:
                enqueue_separation(ctx.broker, job_id)
                acted.append(job_id)
    if acted:
        log.warning("reconciled jobs: %s", ", ".join(acted))
    return acted


def reconcile_webhooks() -> list[str]:
    """Re-send or fail deliveries whose attempt never finished; the job ids acted on.

    The lost attempt counts (the receiver may have got it; the stable webhook-id lets it deduplicate). The re-send is
    immediate: the lease already waited longer than the first backoffs would have.
    """
    ctx = get_context()
    st, acted = ctx.settings, []
    stale = utcnow() - timedelta(seconds=st.webhook_stale_after)
    lost = and_(WebhookDelivery.status == "sending",  # no sending_at: left by a worker older than the lease
                or_(WebhookDelivery.sending_at < stale, WebhookDelivery.sending_at.is_(None)))
    with ctx.sessions() as s:
        for job_id in list(s.scalars(select(WebhookDelivery.job_id).where(lost))):
            if _release_delivery(s, job_id, lost, st.webhook_max_attempts):
                acted.append(job_id)
                if s.scalar(select(WebhookDelivery.status).where(WebhookDelivery.job_id == job_id)) == "pending":
                    enqueue_webhook(ctx.broker, job_id, st)
    if acted:
        log.warning("reconciled webhook deliveries: %s", ", ".join(acted))
    return acted


def _release_delivery(s: Session, job_id: str, lost: ColumnElement[bool], max_attempts: int) -> bool:
    """One conditional UPDATE: back to pending (or failed), so only one of several maintenance threads re-sends."""
    exhausted = WebhookDelivery.attempts + 1 >= max_attempts
    res = s.execute(update(WebhookDelivery).where(WebhookDelivery.job_id == job_id, lost).values(
        attempts=WebhookDelivery.attempts + 1, sending_at=None, status=case((exhausted, "failed"), else_="pending"),
        last_error="the worker delivering this webhook stopped responding"))
    s.commit()
    return res.rowcount == 1


def cleanup() -> dict[str, int]:
    """Delete what passed its retention time; counts of inputs, outputs and records deleted."""
    ctx = get_context()
    st, now = ctx.settings, utcnow()
    counts = {"files": 0, "outputs": 0, "records": 0}
    with ctx.sessions() as s:
        busy = {k for (k,) in s.execute(select(Job.input_key).where(Job.status.in_(("IN_QUEUE", "IN_PROGRESS"))))}
        for row in s.scalars(select(StoredFile).where(StoredFile.deleted.is_(False), StoredFile.delete_after < now)):
            if row.storage_key in busy:  # a queued job still needs it; deleted on a later pass
                continue
            ctx.storage.delete_prefix(f"inputs/{row.id}/")
            row.deleted = True
            counts["files"] += 1
        for job in s.scalars(select(Job).where(Job.outputs_deleted.is_(False), Job.delete_after < now,
                                               Job.status.in_(("COMPLETED", "FAILED")))):
            ctx.storage.delete_prefix(f"outputs/{job.id}/")
            ctx.storage.delete_prefix(f"jobs/{job.id}/")
            job.outputs_deleted = True
            counts["outputs"] += 1
        s.commit()
        horizon = now - timedelta(seconds=st.record_retention)
        counts["records"] = s.execute(delete(Job).where(Job.created_at < horizon, Job.outputs_deleted.is_(True))
                                      ).rowcount
        s.execute(delete(StoredFile).where(StoredFile.created_at < horizon, StoredFile.deleted.is_(True)))
        s.commit()
    return counts


def run_once() -> None:
    reconcile()
    reconcile_webhooks()
    cleanup()
