"""RabbitMQ as the broker (LASSO_BROKER_URL=amqp://): a real node on loopback, one API and `lasso worker` processes.

What the queue side takes from the broker goes through RabbitMQ here: jobs queued before a broker restart (durable
queues, persistent messages) and a submit after it (the API's connections to the old node are dead); the webhook's
backoff and the separation's retries after a fault (both are delayed messages: Dramatiq's delay queues); and a worker
killed mid-job, whose unacked message RabbitMQ hands back at once.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.api.client import LassoClient
from tests.api.helpers import WebhookReceiver, wav_bytes
from tests.api.servers import REPO, RabbitMQ, children, service_env, start_api, start_worker, stop

pytestmark = pytest.mark.heavy


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    node = RabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    try:
        yield node.start()
    finally:
        node.close()


def api_key(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "api.keys", "create"], env=env, cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def test_jobs_survive_a_broker_restart_retries_and_webhook_backoff(rabbit, tmp_path):
    home = tmp_path / "home"
    env = service_env(home, LASSO_BROKER_URL=rabbit.url)
    procs = []
    rx = WebhookReceiver(status=500)
    try:
        api, base = start_api(env)
        procs.append(api)
        c = LassoClient(base, api_key(env))
        data = wav_bytes(2.0)
        good = c.submit(c.upload(data), webhookUrl=rx.url)["request_id"]
        lost_id = c.upload(wav_bytes(1.0, seed=1))
        shutil.rmtree(home / "storage" / "inputs" / lost_id)  # storage lost the input: an infrastructure fault
        lost = c.submit(lost_id)["request_id"]
        rabbit.stop_node()  # no worker yet: both messages wait in RabbitMQ across the restart
        rabbit.start()
        late = c.submit(c.upload(wav_bytes(1.0, seed=2)))["request_id"]  # the API reconnects
        procs.append(start_worker(env))

        assert c.wait(good, timeout=180)["status"] == "COMPLETED"
        res = c.http.get(f"/v1/queue/requests/{good}/result").json()
        target, _ = sf.read(io.BytesIO(httpx.get(res["data"]["target"]["url"]).raise_for_status().content))
        residual, _ = sf.read(io.BytesIO(httpx.get(res["data"]["residual"]["url"]).raise_for_status().content))
        np.testing.assert_allclose(target + residual, sf.read(io.BytesIO(data))[0], atol=1e-3)
        assert c.wait(late, timeout=120)["status"] == "COMPLETED"

        s = c.wait(lost, timeout=120)  # dramatiq's Retries: 2 more attempts after backoffs, then FAILED
        assert s["status"] == "FAILED" and "MODEL_FAILED" in s["logs"][-1]["message"], s["logs"]
        assert sum("attempt failed" in log["message"] for log in s["logs"]) == 3, s["logs"]  # 2 of them retried
        assert sum(log["message"].startswith("started on ") for log in s["logs"]) == 3, s["logs"]

        deadline = time.monotonic() + 30  # 3 webhook attempts, the 2nd and 3rd delayed by the backoff
        while c.status(good)["webhook"]["delivery_status"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.status(good)["webhook"]["attempts"] == 3 and len(rx.received) == 3
    finally:
        rx.close()
        for p in reversed(procs):
            stop(p)


def test_worker_killed_mid_job(rabbit, tmp_path):
    """kill -9 of the process running a job: RabbitMQ requeues its unacked message at once, the job's lease goes
    stale, a new worker runs it again; it completes once."""
    env = service_env(tmp_path / "home", LASSO_BROKER_URL=rabbit.url)
    procs = []
    try:
        api, base = start_api(env)
        worker = start_worker(env, "worker-1")
        procs += [api, worker]
        c = LassoClient(base, api_key(env))
        rid = c.submit(c.upload(wav_bytes(600.0)))["request_id"]
        assert c.wait(rid, timeout=120, until=("IN_PROGRESS", "COMPLETED", "FAILED"))["status"] == "IN_PROGRESS"
        victims = children(worker.pid)
        assert victims, "no dramatiq worker process found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        stop(worker)  # its master exits when a worker process dies; `lasso serve` or systemd would restart it
        procs.append(start_worker(env, "worker-2"))
        s = c.wait(rid, timeout=240)
        assert s["status"] == "COMPLETED", s["logs"]
        assert sum(log["message"].startswith("started on ") for log in s["logs"]) == 2, s["logs"]
    finally:
        for p in reversed(procs):
            stop(p)
