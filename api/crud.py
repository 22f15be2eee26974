"""Database operations of the routes and the CLI, with keyword-only arguments and no HTTP in them.

Ownership is part of every lookup (`owner_id=`), so a key never sees another key's rows: they are simply not found.
"""

import base64
import hashlib
import math
import os
import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.filenames import local_input_name
from api.models import ApiKey, Job, JobLog, StoredFile, WebhookDelivery
from api.timeutil import utcnow

SCOPES = ("models:read", "files:write", "files:read", "audio:separate")
KEY_PREFIX = "lasso_sk_"


def new_id(prefix: str) -> str:
    """Time-ordered, unguessable ids such as `req_01j9...` (48-bit ms time + 80 random bits, base32)."""
    raw = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(10)
    return f"{prefix}_{base64.b32encode(raw).decode().lower().rstrip('=')}"


def hash_key(secret: str) -> str:
    # API keys carry 256 random bits, so a fast hash is enough (no password stretching needed)
    return hashlib.sha256(secret.encode()).hexdigest()


# --- API keys -------------------------------------------------------------------------------------------------------

def create_api_key(session: Session, *, scopes: list[str], credits: float | None = None,
                   name: str = "") -> tuple[ApiKey, str]:
    """Create a key; return the row and the secret, which is shown once and never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {', '.join(SCOPES)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id=new_id("key"), prefix=secret[:16], key_hash=hash_key(secret), name=name,
                 scopes=",".join(dict.fromkeys(scopes)), credits=credits)
    session.add(key)
    session.flush()
    return key, secret


def authenticate(session: Session, *, secret: str) -> ApiKey | None:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    return key if key is not None and key.revoked_at is None else None


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_api_key(session: Session, *, key_id: str) -> bool:
    """Revoke by id or by displayed prefix; True when a live key was revoked."""
    key = session.scalar(select(ApiKey).where((ApiKey.id == key_id) | (ApiKey.prefix == key_id)))
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


def billed_seconds(duration: float) -> int:
    """Audio seconds a job of `duration` seconds is charged: rounded up, at least one."""
    return max(1, math.ceil(duration - 1e-6))


def lock_key(session: Session, *, key_id: str) -> None:
    """Serialise a key's admissions until commit: a row lock on PostgreSQL, the write lock on SQLite.

    Counting a key's jobs or files and then adding one is a race between two requests otherwise.
    """
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(name=ApiKey.name))


def reserve_credits(session: Session, *, key_id: str, seconds: float) -> bool:
    """Take `seconds` from a metered key's balance if it covers them, in one UPDATE; False when it does not."""
    res = session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.credits >= seconds)
                          .values(credits=ApiKey.credits - seconds))
    return res.rowcount == 1


def settle_credits(session: Session, *, key_id: str, reserved: float, charged: float) -> str:
    """Give back what a job reserved and take what it used, in one UPDATE; return the spec's billing_status."""
    res = session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.credits.is_not(None))
                          .values(credits=ApiKey.credits + (reserved - charged)))
    return "deducted" if res.rowcount else "not_metered"


# --- files ----------------------------------------------------------------------------------------------------------

def create_file(session: Session, *, owner_id: str, file_name: str, content_type: str, file_size: int,
                purpose: str, upload_ttl: int, retention: int) -> StoredFile:
    now = utcnow()
    file_id = new_id("file")
    key = f"inputs/{file_id}/{local_input_name(file_name)}"  # the client's name is a label, never a path
    row = StoredFile(id=file_id, owner_id=owner_id, file_name=file_name, content_type=content_type,
                     file_size=file_size, purpose=purpose, storage_key=key,
                     created_at=now, expires_at=now + timedelta(seconds=upload_ttl),
                     delete_after=now + timedelta(seconds=upload_ttl + retention))
    session.add(row)
    session.flush()
    return row


def _owned(session: Session, model: type, row_id: str, owner_id: str | None):
    """The row, or None when it does not exist or belongs to another key (both answer 404 the same way)."""
    row = session.get(model, row_id)
    if row is None or (owner_id is not None and row.owner_id != owner_id):
        return None
    return row


def upload_usage(session: Session, *, owner_id: str) -> tuple[int, int]:
    """(pending uploads, bytes) of a key's live files: declared sizes while pending, stored sizes after."""
    now = utcnow()
    live = [StoredFile.owner_id == owner_id, StoredFile.deleted.is_(False), StoredFile.delete_after > now]
    pending = session.scalar(select(func.count()).where(*live, StoredFile.uploaded.is_(False),
                                                        StoredFile.expires_at > now))
    size = session.scalar(select(func.coalesce(func.sum(StoredFile.file_size), 0)).where(
        *live, or_(StoredFile.uploaded.is_(True), StoredFile.expires_at > now)))
    return int(pending), int(size)


def get_file(session: Session, *, file_id: str, owner_id: str | None) -> StoredFile | None:
    return _owned(session, StoredFile, file_id, owner_id)


def file_status(row: StoredFile) -> str:
    """pending until uploaded; expired when the upload window passed unused or retention deleted it."""
    now = utcnow()
    if row.deleted or now >= row.delete_after:
        return "expired"
    if row.uploaded:
        return "uploaded"
    return "expired" if now >= row.expires_at else "pending"


def mark_uploaded(session: Session, *, row: StoredFile, size: int, retention: int, duration: float | None) -> None:
    now = utcnow()
    row.uploaded, row.uploaded_at, row.file_size, row.duration = True, now, size, duration
    row.delete_after = now + timedelta(seconds=retention)


# --- jobs -----------------------------------------------------------------------------------------------------------

def create_job(session: Session, *, job_id: str, owner_id: str, params: dict[str, Any], input_key: str,
               input_name: str, base_url: str, metadata: dict[str, Any] | None, webhook_url: str | None,
               webhook_secret: str | None, reserved: float | None) -> Job:
    now = utcnow()
    job = Job(id=job_id, owner_id=owner_id, status="IN_QUEUE", params=params, input_key=input_key,
              input_name=input_name, base_url=base_url, metadata_=metadata, created_at=now, updated_at=now,
              reserved=reserved)
    job.logs.append(JobLog(timestamp=now, message="queued"))
    if webhook_url:
        job.webhook = WebhookDelivery(url=webhook_url, secret=webhook_secret or "", status="pending")
    session.add(job)
    session.flush()
    return job


def active_jobs(session: Session, *, owner_id: str) -> int:
    """IN_QUEUE and IN_PROGRESS jobs of a key."""
    return int(session.scalar(select(func.count()).where(Job.owner_id == owner_id,
                                                         Job.status.in_(("IN_QUEUE", "IN_PROGRESS")))))


def get_job(session: Session, *, job_id: str, owner_id: str | None) -> Job | None:
    return _owned(session, Job, job_id, owner_id)


def add_log(session: Session, *, job_id: str, message: str) -> None:
    session.add(JobLog(job_id=job_id, timestamp=utcnow(), message=message[:2000]))
