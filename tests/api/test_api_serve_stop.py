"""One signal stops `lasso serve` with nothing left behind, and loses no job.

For each way an operator or a process manager stops the service (SIGTERM, Ctrl-C's SIGINT, the `lasso serve`
wrapper, a SIGKILL that gives the service no chance to clean up): no process of that service is left, a job that
was running finishes or is retried, and a job still queued is run at the next start on the same LASSO_HOME.
"""

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.api.client import LassoClient
from tests.api.helpers import wav_bytes
from tests.api.servers import free_port, processes_with_env, service_env, spawn, stop, wait_gone, wait_http

pytestmark = pytest.mark.heavy
LASSO = Path(sys.executable).parent / "lasso"
GRACE = 15  # s; the running job takes about 5 s


def serve(home: Path, command: str) -> tuple:
    port = free_port()
    argv = [str(LASSO), "serve"] if command == "lasso serve" else [sys.executable, "-m", "api.serve"]
    env = service_env(home, LASSO_SHUTDOWN_GRACE=str(GRACE))
    proc = spawn([*argv, "--port", str(port), "--no-ui"], env, home.parent / "serve.log")
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", proc)
    return proc, LassoClient(base, (home / "first_api_key.txt").read_text().strip())


@pytest.mark.parametrize(("command", "sig"), [("api.serve", signal.SIGTERM), ("api.serve", signal.SIGINT),
                                              ("lasso serve", signal.SIGTERM), ("lasso serve", signal.SIGKILL)],
                         ids=["SIGTERM", "SIGINT", "lasso-serve-SIGTERM", "lasso-serve-SIGKILL"])
def test_one_signal_stops_everything_and_loses_no_job(tmp_path, command, sig):
    home = tmp_path / "home"
    proc, c = serve(home, command)
    try:
        assert len(processes_with_env("LASSO_HOME", str(home))) >= 5  # serve, redis, worker x2, API x2
        running = c.submit(c.upload(wav_bytes(120.0)))["request_id"]  # a few seconds of work for the debug model
        c.wait(running, until=("IN_PROGRESS", "COMPLETED"))
        queued = c.submit(c.upload(wav_bytes(1.0, seed=1)))["request_id"]
        c.http.close()
        os.kill(proc.pid, sig)
        code = proc.wait(120)
        # after a SIGKILL every child gets SIGTERM at once: Redis goes, and the worker finishes its job within its
        # grace period (it cannot acknowledge it to the dead Redis: the job's message is skipped at the next start)
        left = wait_gone("LASSO_HOME", str(home), timeout=2 * GRACE + 30)
        assert not left, f"left running after {signal.Signals(sig).name}: {left}"
        if sig != signal.SIGKILL:  # the worker finished its job within the grace period: nothing had to be killed
            assert code == 0, (home.parent / "serve.log").read_text()[-2000:]
    finally:
        stop(proc)
    proc, c = serve(home, command)  # the next start, on the same LASSO_HOME
    try:
        for rid in (queued, running):
            assert c.wait(rid, timeout=120)["status"] == "COMPLETED"
    finally:
        stop(proc, timeout=60)
    assert proc.returncode == 0
    assert not wait_gone("LASSO_HOME", str(home))
