"""`lasso worker` delivers webhooks on threads of their own: a receiver that holds its connection open does not hold
the separation thread (one separation thread, the setting a GPU worker runs with)."""

import subprocess
import sys
import time

import pytest

from tests.api.client import LassoClient
from tests.api.helpers import WebhookReceiver, wav_bytes
from tests.api.servers import REPO, service_env, start_api, start_redis, start_worker, stop

pytestmark = pytest.mark.heavy


def test_slow_webhook_receiver_does_not_hold_the_separation_thread(tmp_path):
    redis, port = start_redis(tmp_path / "redis")
    env = service_env(tmp_path / "home", LASSO_BROKER_URL=f"redis://127.0.0.1:{port}/0", LASSO_WEBHOOK_TIMEOUT="60")
    procs, rx = [redis], WebhookReceiver(stall=True)
    try:
        api, base = start_api(env)
        procs += [api, start_worker(env)]  # --processes 1 --threads 1
        out = subprocess.run([sys.executable, "-m", "api.keys", "create"], env=env, cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        c = LassoClient(base, out.strip().splitlines()[-1])
        first = c.submit(c.upload(wav_bytes(1.0)), webhookUrl=rx.url)["request_id"]
        assert c.wait(first, timeout=120)["status"] == "COMPLETED"
        assert rx.got.wait(60), "the webhook never came"
        second = c.submit(c.upload(wav_bytes(1.0, seed=1)))["request_id"]
        assert c.wait(second, timeout=20)["status"] == "COMPLETED"  # while the receiver still holds the first POST
        assert c.status(first)["webhook"]["delivery_status"] == "sending"
        rx.release.set()
        deadline = time.monotonic() + 30
        while c.status(first)["webhook"]["delivery_status"] != "delivered" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.status(first)["webhook"]["delivery_status"] == "delivered"
    finally:
        rx.close()
        for p in reversed(procs):
            stop(p)
