"""What a worker process holds once: settings, DB sessions, storage, broker, and the Separator (loaded lazily).

`SeparatorLoader` middleware preloads the model at process boot; `get_context()` also works without it (unit
tests on StubBroker), loading the model on first use. A model that fails to load is the service's fault, not the
input's: it is loaded again after a back-off (a transient read error heals), and jobs meanwhile fail their attempt
with `ModelUnavailable`, which Dramatiq retries like any infrastructure fault.
"""

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from dramatiq import Broker
from sqlalchemy.orm import sessionmaker

from api.db import get_sessionmaker
from api.settings import Settings, get_settings
from api.storage import Storage, make_storage
from api.worker.broker import get_broker

LOAD_BACKOFF = 1.0  # s before the first new attempt after a failed model load; doubles per failure ...
LOAD_BACKOFF_MAX = 60.0  # ... up to this


class ModelUnavailable(Exception):
    """The worker's model could not be loaded (a service error: the job is retried, and fails with this code only
    when its retries run out)."""

    code = "MODEL_LOAD_FAILED"


@dataclass
class WorkerContext:
    settings: Settings
    sessions: sessionmaker
    storage: Storage
    broker: Broker
    _separator: Any = None
    _load_error: str = ""  # the last failed load, while in back-off
    _failures: int = 0
    _retry_at: float = 0.0  # time.monotonic() after which loading is tried again
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def separator(self) -> Any:
        """The process's one Separator, loaded on first use; ModelUnavailable while it cannot be loaded."""
        with self._lock:
            if self._separator is not None:
                return self._separator
            now = time.monotonic()
            if now < self._retry_at:
                raise ModelUnavailable(f"{self._load_error} (next load attempt in {self._retry_at - now:.0f} s)")
            from lasso import InferenceConfig, LassoError, Separator

            limits = InferenceConfig(max_duration=self.settings.max_duration)  # the same limit as submit's 413
            try:
                self._separator = Separator.from_pretrained(self.settings.checkpoint, device=self.settings.device,
                                                            defaults=limits)
            except LassoError as exc:  # ModelLoadError: a missing, unreadable or incompatible checkpoint
                self._failures += 1
                self._load_error = exc.message
                self._retry_at = now + min(LOAD_BACKOFF_MAX, LOAD_BACKOFF * 2 ** (self._failures - 1))
                raise ModelUnavailable(exc.message) from exc
            return self._separator

    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


_context: WorkerContext | None = None
_context_lock = threading.Lock()


def get_context() -> WorkerContext:
    global _context
    with _context_lock:
        if _context is None:
            s = get_settings()
            s.ensure_home()
            _context = WorkerContext(settings=s, sessions=get_sessionmaker(s.database),
                                     storage=make_storage(s.storage, signing_key=s.signing_key(),
                                                          s3_endpoint_url=s.s3_endpoint_url),
                                     broker=get_broker(s))
        return _context


def reset_context() -> None:
    global _context
    _context = None
