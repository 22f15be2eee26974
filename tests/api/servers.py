"""Real servers on loopback for the end-to-end tests: Redis, PostgreSQL, RabbitMQ, an S3 (moto), uvicorn with the API,
worker processes.

Everything runs as child processes of the test with its own LASSO_HOME; tests stop them in fixtures' teardown.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.supervise import free_port, processes_with_env, redis_command, wait_for_port

REPO = Path(__file__).resolve().parents[2]


def service_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment of a test service: debug model, fast heartbeats, loopback URLs allowed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASSO_")}
    weights = REPO / "lasso" / "weights" / "lasso-default.pt"
    env |= {"LASSO_HOME": str(home), "LASSO_CHECKPOINT": os.environ.get("LASSO_E2E_CHECKPOINT", "debug"
                                                                        if not weights.exists() else str(weights)),
            "LASSO_DEVICE": "cpu", "LASSO_UI": "0", "LASSO_ALLOW_LOOPBACK_URLS": "1",
            "LASSO_MAINTENANCE_INTERVAL": "1", "LASSO_HEARTBEAT_INTERVAL": "0.5", "LASSO_JOB_STALE_AFTER": "4",
            "LASSO_BROKER_HEARTBEAT_TIMEOUT_MS": "4000", "LASSO_WEBHOOK_BACKOFF": "0.2",
            "LASSO_WEBHOOK_MAX_ATTEMPTS": "3", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return env | extra


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True)


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def start_redis(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    port = port or free_port()
    proc = spawn(redis_command(data_dir, port), os.environ.copy(), data_dir.parent / f"redis-{port}.log")
    wait_for_port("127.0.0.1", port)
    return proc, port


def start_api(env: dict[str, str], port: int | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    cmd = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1", "--port",
           str(port), "--log-level", "warning"]
    env = env | {"LASSO_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = spawn(cmd, env, Path(env["LASSO_HOME"]) / f"api-{port}.log")
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", proc)
    return proc, base


def start_worker(env: dict[str, str], name: str = "worker") -> subprocess.Popen:
    return spawn([sys.executable, "-m", "api.worker", "--processes", "1", "--threads", "1"], env,
                 Path(env["LASSO_HOME"]) / f"{name}.log")


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def children(pid: int) -> list[int]:
    """Direct child pids (from /proc), to find the worker processes that dramatiq forked."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def wait_gone(name: str, value: str, timeout: float = 15.0) -> dict[int, str]:
    """Wait for the processes with `name=value` in their environment to exit; those still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while (left := processes_with_env(name, value)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def start_postgres() -> tuple[subprocess.Popen, str, Path]:
    """A throwaway PostgreSQL cluster on loopback, run as an unprivileged user when we are root (CI): its folder is
    a fresh one directly under the system temp dir, which that user can reach (pytest's tmp_path is root-only)."""
    import tempfile

    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    workdir = Path(tempfile.mkdtemp(prefix="lasso-pg-"))
    data, port = workdir / "pgdata", free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(workdir, user)
        workdir.chmod(0o777)
        prefix = ["runuser", "-u", user, "--"]
    subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "lasso", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    proc = subprocess.Popen(prefix + [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                                      "-k", str(workdir), "-c", "fsync=off"], stdout=open(workdir / "pg.log", "ab"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port("127.0.0.1", port)
    url = f"postgresql://lasso@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    import psycopg

    while True:
        try:
            psycopg.connect(url).close()
            return proc, url, workdir
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # Debian's; /usr/sbin's wrapper su's to `rabbitmq`


@dataclass
class RabbitMQ:
    """A throwaway RabbitMQ node on loopback: its own epmd, ports, node name, config, data and logs in `workdir`, so
    it neither needs nor touches a system node (no /etc/rabbitmq, /var/lib/rabbitmq, port 4369 or 5672).

    No plugins (the management plugin would want a fixed HTTP port). `stop_node()` then `start()` restarts the node
    on the same ports and data, so durable queues and persistent messages survive, as in production.
    """

    workdir: Path
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    node: subprocess.Popen | None = None
    epmd: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"  # guest may log in from loopback only

    def env(self) -> dict[str, str]:
        w = self.workdir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return env | {
            "HOME": str(w),  # the Erlang cookie goes here, not in root's home
            "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": f"lasso{self.amqp_port}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(w / "rabbitmq.conf"), "RABBITMQ_CONF_ENV_FILE": str(w / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(w / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(w / "enabled_plugins"), "RABBITMQ_PID_FILE": str(w / "node.pid"),
            "RABBITMQ_MNESIA_BASE": str(w / "mnesia"), "RABBITMQ_LOG_BASE": str(w / "log"), "RABBITMQ_LOGS": "-",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",  # ours below, stopped with the node
        }

    def start(self, timeout: float = 90.0) -> "RabbitMQ":
        """Start (or restart) the node and return once it accepts an AMQP login."""
        import pika

        binary = str(RABBITMQ_SERVER) if RABBITMQ_SERVER.exists() else shutil.which("rabbitmq-server")
        if binary is None:
            raise RuntimeError("RabbitMQ is not installed (apt-get install rabbitmq-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name, text in (("enabled_plugins", "[].\n"), ("rabbitmq.conf", ""), ("rabbitmq-env.conf", "")):
            (self.workdir / name).write_text(text)
        env = self.env()
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = spawn(["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"], env,
                              self.workdir / "epmd.log")
            wait_for_port("127.0.0.1", self.epmd_port)
        self.node = spawn([binary], env, self.workdir / "node.log")
        deadline = time.monotonic() + timeout
        while True:
            if self.node.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.node.returncode}: see {self.workdir}/node.log")
            try:
                pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1")).close()
                return self
            except pika.exceptions.AMQPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop_node(self) -> None:
        stop(self.node, timeout=60)

    def close(self) -> None:
        self.stop_node()
        stop(self.epmd)


def start_moto(log_dir: Path) -> tuple[subprocess.Popen, str]:
    """moto's server (S3 and the other AWS APIs, in memory) on loopback; its endpoint URL."""
    port = free_port()
    proc = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], os.environ.copy(),
                 log_dir / f"moto-{port}.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/moto-api/", proc)
    return proc, url


FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
AWS_OVERRIDES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def aws_test_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with fake credentials and a region for boto3 against moto, and without the machine's AWS profile,
    token or endpoint overrides, so a test can never reach a real account."""
    return {k: v for k, v in env.items() if k not in AWS_OVERRIDES} | FAKE_AWS
