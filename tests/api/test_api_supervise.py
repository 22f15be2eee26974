"""The supervisor of `lasso serve`'s children: restart back-off, stopping, and children that die with it."""

import logging
import signal
import subprocess
import sys
import time

from api.supervise import Supervised


def restart_delays(cmd: list[str], crashes: int, stable_after: float, caplog) -> list[float]:
    """Run `cmd` under a Supervised until it has crashed `crashes` times; the restart delays it chose."""
    caplog.set_level(logging.WARNING, logger="api.serve")
    child = Supervised("crasher", cmd)
    child.STABLE_AFTER = stable_after
    child.start()
    try:
        deadline = time.monotonic() + 60
        while child.restarts < crashes and time.monotonic() < deadline:
            child.poll()
            time.sleep(0.02)
    finally:
        child.stop(grace=5)
    return [r.args[3] for r in caplog.records if r.name == "api.serve" and "restarting" in r.msg]


def test_back_off_doubles_while_the_child_keeps_crashing(caplog):
    assert restart_delays(["sh", "-c", "exit 3"], 3, stable_after=60, caplog=caplog)[:3] == [1.0, 2.0, 4.0]


def test_back_off_resets_after_a_stable_run(caplog):
    """A child that ran longer than STABLE_AFTER is restarted after 1 s again, however often it crashed before
    (it used to wait 2, 4, 8, ... 30 s: the run time was measured from just before the restart)."""
    delays = restart_delays(["sh", "-c", "sleep 0.4; exit 3"], 3, stable_after=0.3, caplog=caplog)
    assert delays[:3] == [1.0, 1.0, 1.0]


def test_stop_reports_a_child_it_had_to_kill():
    stubborn = Supervised("stubborn", ["sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"]).start()
    time.sleep(0.3)  # the trap is set
    assert stubborn.stop(grace=0.5) is True
    assert stubborn.proc.returncode == -signal.SIGKILL
    polite = Supervised("polite", ["sleep", "30"]).start()
    assert polite.stop(grace=5) is False


def test_children_die_with_the_supervisor(tmp_path):
    """A SIGKILLed parent gives its children no chance to be stopped: the kernel sends them SIGTERM."""
    script = ("import sys, time; from api.supervise import Supervised; "
              "c = Supervised('sleeper', ['sleep', '60']).start(); print(c.proc.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
