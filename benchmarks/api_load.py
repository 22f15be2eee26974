"""Load figures of the queue API on loopback, through `lasso serve` as an operator runs it (debug model, SQLite,
its embedded Redis): requests/s with p50/p99 for submit and status, submit -> IN_PROGRESS with an idle worker, SSE
delivery delay with many streams open, jobs per minute with one and two workers.

    .venv/bin/python benchmarks/api_load.py                         # this checkout
    .venv/bin/python benchmarks/api_load.py --baseline bf597d2      # and a git revision, measured in the same run

The load comes from this process (asyncio, plain HTTP/1.1 keep-alive connections, so that the client costs little
of the CPU it shares with the server); the service runs in its own processes. Every figure is measured here; prints
one Markdown table with a column per code version.
"""

import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.supervise import die_with_parent, free_port, processes_with_env  # noqa: E402


def wav_bytes(seconds: float, sr: int = 16000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


class Http:
    """One keep-alive HTTP/1.1 connection: a few lines of asyncio instead of a client library that would take more
    CPU than the server it measures."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.auth = port, f"Authorization: Bearer {key}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> None:
        if self.writer is None or self.reader.at_eof():  # new, or closed by the server after its keep-alive time
            self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.auth}"
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)

    async def head(self) -> tuple[int, dict[str, str]]:
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        return int(lines[0].split()[1]), headers

    async def request(self, method: str, path: str, body: bytes = b"", **kw) -> tuple[int, dict]:
        await self.send(method, path, body, **kw)
        status, headers = await self.head()
        data = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return status, json.loads(data) if data else {}

    async def json(self, method: str, path: str, payload: dict | None = None) -> dict:
        status, out = await self.request(method, path, json.dumps(payload).encode() if payload else b"")
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {out}")
        return out

    async def events(self, path: str):
        """Server-sent events of a chunked response: (name, data, arrival time) until the server ends it."""
        await self.send("GET", path)
        status, headers = await self.head()
        if status != 200:
            await self.reader.readexactly(int(headers.get("content-length", 0)))
            raise RuntimeError(f"stream answered {status}")
        buf, name = b"", None
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return
            buf += chunk[:-2]
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: "):
                    yield name, json.loads(line[6:]), time.time()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def upload(http: Http, seconds: float) -> str:
    data = wav_bytes(seconds)
    f = await http.json("POST", "/v1/files", {"file_name": "clip.wav", "content_type": "audio/wav",
                                              "file_size": len(data), "purpose": "audio.separate.input"})
    put = Http(http.port, "")
    status, _ = await put.request("PUT", f["upload_url"].split(str(http.port), 1)[1], data, content_type="audio/wav")
    put.close()
    assert status == 200, status
    return f["file_id"]


async def submit(http: Http, file_id: str) -> str:
    return (await http.json("POST", "/v1/queue/audio/separate",
                            {"input": {"file_id": file_id, "prompt": "the tone"}}))["request_id"]


async def wait_done(http: Http, rid: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = await http.json("GET", f"/v1/queue/requests/{rid}/status?logs=true")
        if s["status"] in ("COMPLETED", "FAILED"):
            return s
        await asyncio.sleep(0.05)
    raise TimeoutError(rid)


async def hammer(port: int, key: str, clients: int, n: int, call) -> tuple[float, list[float]]:
    """n calls of `call(http)` over `clients` connections; (requests/s, latencies in s)."""
    conns, lat, left = [Http(port, key) for _ in range(clients)], [], [n]

    async def client(http: Http) -> None:
        while left[0] > 0:
            left[0] -= 1
            t = time.perf_counter()
            await call(http)
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return n / elapsed, lat


async def api_figures(port: int, key: str, args) -> dict[str, str]:
    http = Http(port, key)
    fid = await upload(http, 1.0)
    rid = await submit(http, fid)

    async def do_submit(h: Http) -> None:
        await submit(h, fid)

    async def do_status(h: Http) -> None:
        await h.json("GET", f"/v1/queue/requests/{rid}/status")

    rows = {}
    for name, call, n in (("submit", do_submit, args.requests // 2), ("status", do_status, args.requests)):
        await hammer(port, key, args.clients, args.clients * 5, call)  # warm the connections and caches
        rps, lat = await hammer(port, key, args.clients, n, call)
        rows[name] = f"{rps:.0f} req/s, {pct(lat, .5):.1f} / {pct(lat, .99):.1f} ms"
    http.close()
    return rows


async def worker_figures(port: int, key: str, args) -> dict[str, str]:
    http = Http(port, key)
    fid = await upload(http, args.seconds)
    await wait_done(http, await submit(http, fid))  # the worker has its model
    waits = []
    for _ in range(args.overhead_jobs):
        t0 = time.time()
        s = await wait_done(http, await submit(http, fid))
        started = next(log for log in s["logs"] if log["message"].startswith("started on"))
        waits.append(ts(started["timestamp"]) - t0)  # the claim's own timestamp: no polling error
    rows = {"submit -> IN_PROGRESS, idle worker": f"{pct(waits, .5):.0f} / {pct(waits, .99):.0f} ms"}

    ids = [await submit(http, fid) for _ in range(args.streams)]
    delays: list[float] = []
    refused: list[str] = []

    async def follow(rid: str) -> None:
        stream = Http(port, key)
        first = True
        try:
            async for name, data, arrived in stream.events(f"/v1/queue/requests/{rid}/status/stream?interval=1"):
                if name == "status" and not first:  # the first event is the state at connection, not a change
                    delays.append(arrived - ts(data["updated_at"]))
                first = False
        except RuntimeError as exc:
            refused.append(str(exc))
        stream.close()

    await asyncio.gather(*(follow(rid) for rid in ids))
    for rid in ids:  # the refused streams' jobs still run: let them finish before the next measure
        await wait_done(http, rid)
    failed = f" ({len(refused)} streams refused: {refused[0]})" if refused else ""
    rows[f"SSE: {args.streams} streams, change -> event"] = (f"{pct(delays, .5):.0f} / {pct(delays, .99):.0f} ms"
                                                              f"{failed}" if delays else failed)
    http.close()
    return rows


async def jobs_per_minute(port: int, key: str, args) -> float:
    """All jobs submitted at once; jobs/min from the first submit to the last job's completion (its own timestamp)."""
    http = Http(port, key)
    fid = await upload(http, args.seconds)
    await wait_done(http, await submit(http, fid))  # every worker process has loaded its model by now
    conns = [Http(port, key) for _ in range(4)]

    async def share(c: Http, n: int) -> list[str]:  # one request at a time per connection
        return [await submit(c, fid) for _ in range(n)]

    t0 = time.time()
    shares = await asyncio.gather(*(share(c, len(range(i, args.jobs, 4))) for i, c in enumerate(conns)))
    done = [await wait_done(http, rid) for rid in sum(shares, [])]
    for c in [http, *conns]:
        c.close()
    return args.jobs / (max(ts(s["updated_at"]) for s in done) - t0) * 60


@contextmanager
def serving(code: Path, home: Path, *flags: str):
    """`python -m api.serve` of the checkout `code`, until the block ends; then nothing of it may be left."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASSO_")}
    env |= {"LASSO_HOME": str(home), "LASSO_CHECKPOINT": "debug", "LASSO_DEVICE": "cpu", "LASSO_UI": "0",
            "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1",
            # one key queues every request of the submit benchmark and opens all 200 SSE streams
            "LASSO_MAX_ACTIVE_JOBS": str(10**6), "LASSO_MAX_STREAMS_PER_KEY": str(10**6)}
    home.mkdir(parents=True)
    parent = os.getpid()
    proc = subprocess.Popen([sys.executable, "-m", "api.serve", "--port", str(port), "--no-ui", *flags], cwd=code,
                            env=env, stdout=open(home / "serve.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True, preexec_fn=lambda: die_with_parent(parent))  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 120
        while not (home / "first_api_key.txt").exists() or not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lasso serve did not start: {(home / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield port, (home / "first_api_key.txt").read_text().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        time.sleep(2)
        for pid in processes_with_env("LASSO_HOME", str(home)):  # what an older `lasso serve` left behind
            os.kill(pid, signal.SIGKILL)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def measure(code: Path, tmp: Path, args) -> dict[str, str]:
    new = "--api-processes" in (code / "api" / "serve.py").read_text()
    api_flags = ["--api-processes", str(args.api_processes)] if new else []
    one_api = ["--api-processes", "1"] if new else []
    rows: dict[str, str] = {}
    if "api" in args.measures:
        with serving(code, tmp / "api", "--no-worker", *api_flags) as (port, key):
            rows |= asyncio.run(api_figures(port, key, args))
    if "worker" in args.measures:
        with serving(code, tmp / "w1", "--workers", "1", *one_api) as (port, key):
            rows |= asyncio.run(worker_figures(port, key, args))
    for workers in (1, 2) if "jobs" in args.measures else ():
        with serving(code, tmp / f"jobs{workers}", "--workers", str(workers), *one_api) as (port, key):
            jpm = asyncio.run(jobs_per_minute(port, key, args))
        rows[f"jobs/min, {workers} worker{'s' * (workers > 1)} ({args.seconds:g} s clips)"] = f"{jpm:.0f}"
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16, help="concurrent connections for submit and status")
    p.add_argument("--requests", type=int, default=4000, help="status requests (submit: half as many)")
    p.add_argument("--api-processes", type=int, default=2, help="API processes for submit and status")
    p.add_argument("--overhead-jobs", type=int, default=20, help="jobs submitted one by one to an idle worker")
    p.add_argument("--streams", type=int, default=200, help="concurrent SSE streams (one API process)")
    p.add_argument("--jobs", type=int, default=40, help="jobs per jobs/min run")
    p.add_argument("--seconds", type=float, default=5.0, help="audio length of each job")
    p.add_argument("--measures", default="api,worker,jobs", help="which to run: api (submit, status), worker "
                                                                 "(queue wait, SSE), jobs (jobs/min)")
    p.add_argument("--baseline", default=None, help="a git revision to measure too (from `git archive`)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lasso-bench-"))
    columns = {"this checkout": measure(REPO, tmp / "new", args)}
    if args.baseline:
        base = tmp / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.baseline], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        columns[args.baseline] = measure(base, tmp / "old", args)
    print(f"\n{args.clients} connections, {args.api_processes} API processes for submit/status; one API process for "
          f"the rest; debug model, SQLite, embedded Redis; p50 / p99\n")
    shutil.rmtree(tmp)  # kept when a measure fails: its services' logs are there
    names = list(columns)
    print("| measure | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    for row in columns[names[0]]:
        print(f"| {row} | " + " | ".join(columns[n].get(row, "") for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
