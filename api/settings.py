"""Service knobs, read only from the environment (`LASSO_*`): database, broker, storage, secrets, limits, retention.

Everything defaults to one machine with all state under `LASSO_HOME` (./.lasso), so `lasso serve` needs no setup;
the same variables point the API and the workers at PostgreSQL, a shared Redis/RabbitMQ and S3 to scale out.
"""

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_UPLOAD_BYTES = 524_288_000  # the spec's CreateFileRequest.file_size maximum


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LASSO_", extra="ignore")

    home: Path = Path(".lasso")  # all local state: sqlite db, storage, redis data, secret key, first API key
    database_url: str | None = None  # default sqlite:///$LASSO_HOME/lasso.db (WAL); postgresql+psycopg://... at scale
    broker_url: str | None = None  # redis://host:port/db or amqp://...; stub:// for unit tests; serve starts one
    storage_url: str | None = None  # default file://$LASSO_HOME/storage; s3://bucket/prefix at scale
    s3_endpoint_url: str | None = None  # S3-compatible endpoint (MinIO, R2, ...); None = AWS
    secret_key: str | None = None  # signs upload/download URLs; generated into $LASSO_HOME/secret_key when unset
    public_url: str | None = None  # base of signed and status URLs (e.g. https://audiolasso.dev); default: request's
    checkpoint: str | None = None  # model for workers: None = shipped default, a path, or "debug"
    device: str | None = None  # torch device for workers; None = cuda if available
    ui: bool = True  # mount the Gradio workbench at /ui when the `app` package is importable
    allow_loopback_urls: bool = False  # tests/dev only: http:// loopback allowed for audio_url and webhookUrl

    # limits
    max_upload_bytes: int = Field(MAX_UPLOAD_BYTES, ge=1)  # bytes, uploads and audio_url downloads
    max_json_body: int = Field(65_536, ge=1024)  # bytes of any other request body, refused before parsing (413)
    upload_url_ttl: int = 3600  # s, validity of a POST /v1/files upload_url
    fetch_timeout: float = 120.0  # s, one deadline for a whole audio_url fetch: connect, headers, redirects, body
    fetch_max_redirects: int = 5
    max_metadata_bytes: int = 16_384  # JSON size of `metadata`
    max_duration: float = Field(4 * 3600.0, gt=0)  # s of audio per job (the workers' InferenceConfig.max_duration)
    stream_window: float = 600.0  # s, an SSE stream ends with a `timeout` event after this
    key_cache_ttl: float = 2.0  # s an API process trusts an unmetered key it verified (revocation delay); 0 = off

    # per-key quotas (429; api/quotas.py, api/slots.py); unmetered keys have them too
    max_active_jobs: int = Field(8, ge=1)  # IN_QUEUE + IN_PROGRESS jobs of one key
    max_pending_files: int = Field(20, ge=1)  # uploads created (POST /v1/files) and not yet PUT
    max_stored_bytes: int = Field(4 * MAX_UPLOAD_BYTES, ge=1)  # bytes of a key's live uploads, pending or stored
    max_streams_per_key: int = Field(4, ge=1)  # SSE status streams open at once, per API process
    max_fetches_per_key: int = Field(2, ge=1)  # audio_url downloads at submit at once, per API process
    min_bitrate: int = Field(8_000, ge=1)  # bit/s: bounds the length of media whose header tells none (credits)

    # retention
    file_retention: int = 86_400  # s after upload that an uploaded input is deleted
    result_retention: int = 86_400  # s after completion that outputs (and the input copy) are deleted
    record_retention: int = 30 * 86_400  # s after creation that job records (status, logs) are deleted

    # jobs and workers
    job_time_limit: float = 3600.0  # s, one separation attempt
    job_max_retries: int = 2  # retries after infrastructure faults (bad input never retries)
    job_max_attempts: int = 3  # claims of a job in all (worker deaths included) before it FAILS as WORKER_LOST
    heartbeat_interval: float = 5.0  # s between heartbeats of a running job
    job_stale_after: float = 60.0  # s without heartbeat before a running job is considered orphaned
    queued_requeue_after: float = 900.0  # s an IN_QUEUE job waits before its message is sent again
    maintenance_interval: float = 30.0  # s between stuck-job reconciliation and retention cleanup passes
    worker_processes: int = 1
    api_processes: int = Field(2, ge=1)  # uvicorn processes of `lasso serve` sharing its port
    shutdown_grace: float = 30.0  # s a stopping worker lets its running job finish (else it is retried later)
    worker_threads: int = 1
    broker_heartbeat_timeout_ms: int = 30_000  # Redis broker: unacked messages of silent workers are requeued

    # webhooks
    webhook_max_attempts: int = 6
    webhook_backoff: float = 5.0  # s, first retry delay; doubles each attempt
    webhook_backoff_max: float = 3600.0
    webhook_timeout: float = 10.0  # s per delivery attempt
    webhook_stale_after: float = 300.0  # s `sending` before maintenance re-sends (an attempt is stopped after 120 s)
    webhook_threads: int = Field(2, ge=0)  # per worker process, apart from the separation threads; 0 = none

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'lasso.db').resolve()}"

    @property
    def storage(self) -> str:
        return self.storage_url or f"file://{(self.home / 'storage').resolve()}"

    def ensure_home(self) -> Path:
        """LASSO_HOME, created 0700: it holds the database (webhook secrets in clear) and the signing key."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.home

    def signing_key(self) -> bytes:
        """The HMAC key of signed URLs; generated once and kept in LASSO_HOME so restarts keep URLs valid."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.home / "secret_key"
        if not path.exists():
            self.ensure_home()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not a moment
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # atomic create-if-absent: concurrent starts agree
                os.link(tmp, path)
            tmp.unlink()
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (tests call `get_settings.cache_clear()` after changing the environment)."""
    return Settings()
