"""Tables: API keys (hashed, scoped, metered), uploaded files, jobs with their logs, webhook deliveries."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime
from api.timeutil import utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(24))  # shown in `lasso keys list`; the key itself is never stored
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[str] = mapped_column(String(200))  # comma-separated
    credits: Mapped[float | None] = mapped_column(Float, nullable=True)  # audio seconds left; None = unmetered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def scope_set(self) -> set[str]:
        return {s for s in self.scopes.split(",") if s}


class StoredFile(Base):
    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    file_size: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    uploaded: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # end of the upload window
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delete_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)  # s, from the header at upload; None: unknown


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="IN_QUEUE")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # the validated `input` without file_id/audio_url
    input_key: Mapped[str] = mapped_column(String(300))  # storage key of the input media
    input_name: Mapped[str] = mapped_column(String(255))  # keeps the extension (video detection, decoding)
    base_url: Mapped[str] = mapped_column(String(500), default="")  # where the client reached us (links in webhooks)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims by a worker
    worker_id: Mapped[str | None] = mapped_column(String(80), nullable=True)  # current claim (lease owner)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # storage keys, duration, rate
    usage_quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)  # audio seconds (ceil)
    billing_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # deducted | not_metered
    reserved: Mapped[float | None] = mapped_column(Float, nullable=True)  # audio s held from credits until the end
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    outputs_deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    logs: Mapped[list["JobLog"]] = relationship(order_by="JobLog.id", cascade="all, delete-orphan",
                                                passive_deletes=True)
    webhook: Mapped["WebhookDelivery | None"] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                             uselist=False)


class JobLog(Base):
    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(300))  # whsec_<base64>; needed in clear to sign
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # webhook-id, stable across retries
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # the exact body, signed again on each retry
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # lease of the attempt in flight
