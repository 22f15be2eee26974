"""Response bodies, field for field as the spec names them, built from rows (shared by routes and webhooks)."""

from typing import Any

from api.models import Job, StoredFile, WebhookDelivery
from api.storage import Storage
from api.timeutil import iso

MODEL_ID = "audio/separate"
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", ".mp4": "video/mp4", ".mov": "video/quicktime",
                 ".webm": "video/webm", ".mkv": "video/x-matroska"}


def file_view(row: StoredFile, status: str) -> dict[str, Any]:
    return {"file_id": row.id, "file_name": row.file_name, "content_type": row.content_type,
            "file_size": row.file_size, "purpose": row.purpose, "status": status, "created_at": iso(row.created_at),
            "uploaded_at": iso(row.uploaded_at), "expires_at": iso(row.expires_at)}


def request_urls(base: str, job_id: str) -> dict[str, str]:
    root = f"{base}/v1/queue/requests/{job_id}"
    return {"status_url": f"{root}/status", "stream_url": f"{root}/status/stream", "result_url": f"{root}/result"}


def webhook_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"delivery_status": delivery.status, "attempts": delivery.attempts,
            "delivered_at": iso(delivery.delivered_at), "last_error": delivery.last_error}


def status_view(job: Job, base: str, *, logs: bool) -> dict[str, Any]:
    body = {"request_id": job.id, "model": MODEL_ID, "status": job.status, "created_at": iso(job.created_at),
            "updated_at": iso(job.updated_at), "result_url": request_urls(base, job.id)["result_url"]}
    if logs:
        body["logs"] = [{"timestamp": iso(log.timestamp), "message": log.message} for log in job.logs]
    if job.webhook is not None:
        body["webhook"] = webhook_view(job.webhook)
    return body


def usage_view(job: Job) -> dict[str, Any]:
    return {"feature": "audio_seconds", "quantity": job.usage_quantity or 0,
            "billing_status": job.billing_status or "not_metered"}


def _output(storage: Storage, base: str, job: Job, name: str) -> dict[str, Any]:
    res = job.result or {}
    fmt = res["format"]
    out = {"url": storage.download_url(res[name], base_url=base, expires_at=job.delete_after,
                                       file_name=f"{name}.{fmt}", content_type=CONTENT_TYPES[fmt]),
           "content_type": CONTENT_TYPES[fmt], "file_name": f"{name}.{fmt}"}
    video = res.get(f"{name}_video")
    if video:
        ext = "." + video.rsplit(".", 1)[-1]
        out["video_url"] = storage.download_url(video, base_url=base, expires_at=job.delete_after,
                                                file_name=f"{name}_video{ext}",
                                                content_type=CONTENT_TYPES.get(ext, "video/mp4"))
    return out


def data_view(job: Job, storage: Storage, base: str) -> dict[str, Any]:
    res = job.result or {}
    return {"target": _output(storage, base, job, "target"), "residual": _output(storage, base, job, "residual"),
            "duration": res["duration"], "sample_rate": res["sample_rate"]}


def result_view(job: Job, storage: Storage, base: str) -> dict[str, Any]:
    body = {"request_id": job.id, "model": MODEL_ID, "status": "COMPLETED", "data": data_view(job, storage, base),
            "usage": usage_view(job), "retention": {"delete_after": iso(job.delete_after)}}
    if job.webhook is not None:
        body["webhook"] = webhook_view(job.webhook)
    return body


def event_view(job: Job, storage: Storage, base: str) -> dict[str, Any]:
    """The spec's WebhookCompletedEvent or WebhookFailedEvent for a terminal job."""
    common = {"request_id": job.id, "model": MODEL_ID, "status": job.status, "created_at": iso(job.created_at)}
    if job.status == "COMPLETED":
        body = {"type": "audio.separate.completed", **common, "completed_at": iso(job.finished_at),
                "data": data_view(job, storage, base), "usage": usage_view(job)}
    else:
        body = {"type": "audio.separate.failed", **common, "failed_at": iso(job.finished_at),
                "error": {"code": job.error_code or "MODEL_FAILED", "message": job.error_message or "failed"}}
    if job.metadata_ is not None:
        body["metadata"] = job.metadata_
    return body
