"""Per-key limits checked where something is created: active jobs and credits at submit, uploads at POST /v1/files.

Each check runs under the key's lock (`crud.lock_key`) in the transaction that creates the row, so two requests at
once cannot both take the last place. Unmetered keys have the same caps; they only skip the credit reservation,
which holds a job's estimated seconds from submit until the job ends (`api.worker.jobs` settles it).
"""

from sqlalchemy.orm import Session

from api import crud
from api.errors import InsufficientCredits, QuotaExceeded
from api.models import ApiKey
from api.settings import Settings


def check_active_jobs(session: Session, key: ApiKey, settings: Settings) -> None:
    """429 when the key already has `max_active_jobs` jobs queued or running."""
    if crud.active_jobs(session, owner_id=key.id) >= settings.max_active_jobs:
        raise QuotaExceeded(f"this API key has {settings.max_active_jobs} requests queued or running, its limit; "
                            "submit again when one has finished", code="TOO_MANY_ACTIVE_REQUESTS")


def estimate_seconds(duration: float | None, size: int, settings: Settings) -> int:
    """The seconds a job will be charged: by its header, or for media that tells none, the longest it can last at
    `min_bitrate` (the worker refuses anything over `max_duration`, so never more than that)."""
    if duration is None:
        duration = min(settings.max_duration, size * 8 / settings.min_bitrate)
    return crud.billed_seconds(duration)


def admit_job(session: Session, key: ApiKey, seconds: int, settings: Settings) -> int | None:
    """Lock the key, check its active jobs and reserve `seconds` of its credit; the reservation (None: unmetered).

    The caller commits it with the job, or its session rolls it back with the refusal.
    """
    crud.lock_key(session, key_id=key.id)
    check_active_jobs(session, key, settings)
    if key.credits is None:
        return None
    if not crud.reserve_credits(session, key_id=key.id, seconds=seconds):
        raise InsufficientCredits(f"this request needs {seconds} audio-seconds of credit (reserved until it ends); "
                                  "the API key has less left")
    return seconds


def admit_upload(session: Session, key: ApiKey, size: int, settings: Settings) -> None:
    """Lock the key and check its pending uploads and stored bytes (declared sizes count while pending)."""
    crud.lock_key(session, key_id=key.id)
    pending, stored = crud.upload_usage(session, owner_id=key.id)
    if pending >= settings.max_pending_files:
        raise QuotaExceeded(f"this API key has {pending} uploads created and not yet sent, its limit",
                            code="TOO_MANY_PENDING_FILES")
    if stored + size > settings.max_stored_bytes:
        raise QuotaExceeded(f"this upload would bring the API key's stored files to {stored + size} bytes; the limit "
                            f"is {settings.max_stored_bytes} (files are deleted after their retention)",
                            code="STORAGE_QUOTA_EXCEEDED")
