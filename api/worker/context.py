"""What a worker process holds once: settings, DB sessions, storage, broker, and the Separator (loaded lazily).

`SeparatorLoader` middleware preloads the model at process boot; `get_context()` also works without it (unit
tests on StubBroker), loading the model on first use.
"""

import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from dramatiq import Broker
from sqlalchemy.orm import sessionmaker

from api.db import get_sessionmaker
from api.settings import Settings, get_settings
from api.storage import Storage, make_storage
from api.worker.broker import get_broker


@dataclass
class WorkerContext:
    settings: Settings
    sessions: sessionmaker
    storage: Storage
    broker: Broker
    _separator: Any = None
    _load_error: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def separator(self) -> Any:
        """The process's one Separator; raises the load error (a LassoError) every time if loading failed."""
        with self._lock:
            if self._separator is None and self._load_error is None:
                from lasso import InferenceConfig, LassoError, Separator

                limits = InferenceConfig(max_duration=self.settings.max_duration)  # the same limit as submit's 413
                try:
                    self._separator = Separator.from_pretrained(self.settings.checkpoint, device=self.settings.device,
                                                                defaults=limits)
                except LassoError as exc:
                    self._load_error = exc
            if self._load_error is not None:
                raise self._load_error
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
