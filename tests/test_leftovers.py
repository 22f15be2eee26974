"""The session-end check fails a run that leaves a process behind, and kills it."""

import os
import subprocess
import sys
from pathlib import Path

from tests.api.servers import REPO

LEAKY = """
import os, subprocess

def test_starts_a_server_and_forgets_it():
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    open(os.environ["LEAK_PID_FILE"], "w").write(str(proc.pid))
"""


def test_a_run_that_leaves_a_process_fails(tmp_path):
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    pid_file = tmp_path / "leak.pid"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.leftovers", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "--confcutdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
                         cwd=REPO, env=os.environ | {"LEAK_PID_FILE": str(pid_file)}, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout and "left running (now killed)" in run.stdout and "sleep 300" in run.stdout
    stat = Path(f"/proc/{pid_file.read_text()}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # killed (a zombie at most)
