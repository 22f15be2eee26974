"""Scale-out: a real PostgreSQL and a real Redis on loopback, one API and two `lasso worker` processes sharing jobs.

Both workers must take part, every job must complete exactly once (one `started` per job, credits charged once).
"""

import sys

import pytest

from tests.api.client import LassoClient
from tests.api.helpers import wav_bytes
from tests.api.servers import (
    REPO,
    postgres_bin,
    service_env,
    start_api,
    start_postgres,
    start_redis,
    start_worker,
    stop,
)

pytestmark = pytest.mark.heavy


def test_api_two_workers_postgres_redis(tmp_path):
    assert postgres_bin() is not None, "PostgreSQL is not installed: run scripts/test_deps.sh"
    import shutil
    import subprocess

    pg, db_url, pg_dir = start_postgres()
    redis, port = start_redis(tmp_path / "redis")
    env = service_env(tmp_path / "home", LASSO_BROKER_URL=f"redis://127.0.0.1:{port}/0", LASSO_DATABASE_URL=db_url,
                      LASSO_STORAGE_URL=f"file://{tmp_path / 'shared-storage'}", LASSO_SECRET_KEY="scale-out-test")
    procs = [pg, redis]
    try:
        api, base = start_api(env)
        procs.append(api)
        procs += [start_worker(env, "worker-a"), start_worker(env, "worker-b")]
        out = subprocess.run([sys.executable, "-m", "api.keys", "create", "--credits", "1000"], env=env, cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        c = LassoClient(base, out.strip().splitlines()[-1])
        ids = [c.submit(c.upload(wav_bytes(20.0, seed=i)))["request_id"] for i in range(8)]
        hosts = set()
        for rid in ids:
            s = c.wait(rid, timeout=240)
            assert s["status"] == "COMPLETED", s
            started = [log["message"] for log in s["logs"] if log["message"].startswith("started on ")]
            assert len(started) == 1, s["logs"]
            hosts.add(started[0].split()[2])
        assert len(hosts) == 2, f"only {hosts} did work"
        listed = subprocess.run([sys.executable, "-m", "api.keys", "list"], env=env, cwd=REPO, capture_output=True,
                                text=True, check=True).stdout
        assert "\t840 s\t" in listed, listed  # 1000 - 8 jobs x 20 s: each charged exactly once
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(pg_dir, ignore_errors=True)
