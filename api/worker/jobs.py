"""Job state transitions as conditional UPDATEs, so duplicate messages and concurrent workers cannot double-run,
double-complete or double-charge a job.

A worker *claims* a job (IN_QUEUE, or IN_PROGRESS whose heartbeat went stale) by writing its id as the lease owner;
only the lease owner may heartbeat, complete, fail or release it. Credits are deducted in the same transaction that
marks the job COMPLETED, and the credits a job reserved at submit are given back when it ends either way.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from api import crud
from api.models import Job
from api.timeutil import utcnow


def claim(session: Session, *, job_id: str, worker_id: str, stale_after: float) -> Job | None:
    """Take the job for `worker_id`; None when it is terminal or freshly held by another worker."""
    now = utcnow()
    stale = now - timedelta(seconds=stale_after)
    res = session.execute(
        update(Job).where(Job.id == job_id, or_(Job.status == "IN_QUEUE",
                                                and_(Job.status == "IN_PROGRESS", Job.heartbeat_at < stale)))
        .values(status="IN_PROGRESS", worker_id=worker_id, heartbeat_at=now, updated_at=now,
                started_at=now, attempts=Job.attempts + 1))
    if res.rowcount != 1:
        session.rollback()
        return None
    job = session.get(Job, job_id)
    session.refresh(job)
    crud.add_log(session, job_id=job_id, message=f"started on {worker_id.rsplit(':', 1)[0]} (attempt {job.attempts})")
    session.commit()
    return job


def heartbeat(session: Session, *, job_id: str, worker_id: str) -> bool:
    """Refresh the lease; False when it was lost (the reconciler gave the job to someone else)."""
    now = utcnow()
    res = session.execute(update(Job).where(Job.id == job_id, Job.worker_id == worker_id,
                                            Job.status == "IN_PROGRESS").values(heartbeat_at=now))
    session.commit()
    return res.rowcount == 1


def complete(session: Session, *, job: Job, worker_id: str, result: dict[str, Any], retention: int) -> bool:
    """COMPLETED + credits charged once; False (and nothing changed) when the lease was lost."""
    now = utcnow()
    quantity = crud.billed_seconds(result["duration"])
    res = session.execute(update(Job).where(Job.id == job.id, Job.worker_id == worker_id, Job.status == "IN_PROGRESS")
                          .values(status="COMPLETED", result=result, finished_at=now, updated_at=now,
                                  usage_quantity=quantity, delete_after=now + timedelta(seconds=retention)))
    if res.rowcount != 1:
        session.rollback()
        return False
    billing = crud.settle_credits(session, key_id=job.owner_id, reserved=job.reserved or 0, charged=quantity)
    session.execute(update(Job).where(Job.id == job.id).values(billing_status=billing))
    crud.add_log(session, job_id=job.id, message=f"completed: {result['duration']:.2f} s of audio")
    session.commit()
    return True


def fail(session: Session, *, job_id: str, code: str, message: str, retention: int,
         worker_id: str | None = None, stale_before: datetime | None = None,
         statuses: tuple[str, ...] = ("IN_QUEUE", "IN_PROGRESS")) -> bool:
    """FAILED with `code`; guarded by the lease (worker), by staleness (reconciler) or by `statuses`."""
    now = utcnow()
    cond = [Job.id == job_id, Job.status.in_(statuses)]
    if worker_id is not None:
        cond.append(Job.worker_id == worker_id)
    if stale_before is not None:
        cond.append(Job.heartbeat_at < stale_before)
    res = session.execute(update(Job).where(*cond).values(
        status="FAILED", error_code=code, error_message=message[:2000], finished_at=now, updated_at=now,
        usage_quantity=0, billing_status="not_metered", delete_after=now + timedelta(seconds=retention)))
    if res.rowcount != 1:
        session.rollback()
        return False
    job = session.get(Job, job_id)
    crud.settle_credits(session, key_id=job.owner_id, reserved=job.reserved or 0, charged=0)
    crud.add_log(session, job_id=job_id, message=f"failed: {code}: {message[:500]}")
    session.commit()
    return True


def release(session: Session, *, job_id: str, worker_id: str | None, message: str,
            stale_before: datetime | None = None) -> bool:
    """Back to IN_QUEUE (a retry follows); guarded like `fail`."""
    now = utcnow()
    cond = [Job.id == job_id, Job.status == "IN_PROGRESS"]
    if worker_id is not None:
        cond.append(Job.worker_id == worker_id)
    if stale_before is not None:
        cond.append(Job.heartbeat_at < stale_before)
    res = session.execute(update(Job).where(*cond).values(status="IN_QUEUE", worker_id=None, updated_at=now))
    if res.rowcount != 1:
        session.rollback()
        return False
    crud.add_log(session, job_id=job_id, message=message[:2000])
    session.commit()
    return True
