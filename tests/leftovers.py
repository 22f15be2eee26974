"""A test run must leave no process behind: every process the suite starts inherits a mark in its environment, and
at the end of the session any still running (Redis, workers, `lasso serve`, PostgreSQL, RabbitMQ, a browser...)
fails the run, is listed, and is killed so the machine is clean again.

Loaded by tests/conftest.py; `pytest -p tests.leftovers` loads it alone.
"""

import contextlib
import os
import secrets
import signal

import pytest

from tests.api.servers import wait_gone

MARK = "AUDIOLASSO_TEST_SESSION"


def pytest_configure(config: pytest.Config) -> None:
    os.environ[MARK] = f"{os.getpid()}-{secrets.token_hex(6)}"  # a fresh value: a nested run checks only its own


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = wait_gone(MARK, os.environ[MARK], timeout=15.0)  # what teardown just stopped may take a moment to exit
    if not left:
        return
    report = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) started by the tests were left running (now killed):"]
    lines += [f"  {pid}: {cmd[:200]}" for pid, cmd in sorted(left.items())]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if report is not None:
        report.write_line("\n".join(lines), red=True)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
