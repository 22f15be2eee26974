"""The workbench under `lasso serve` (/ui) is a client of the queue: no key, no separation; with a key, each run is a
job of that key in /v1, charged to its credits. Driven in Debian's chromium through Playwright."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.servers import free_port, service_env, spawn, stop, wait_http
from tests.test_app_browser import CHROMIUM, TIMEOUT_MS, browser, history_cell  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.heavy
EXAMPLE_SECONDS = 8  # examples/piano_and_dog.flac


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`python -m api.serve` with the workbench, on a free loopback port with its own LASSO_HOME."""
    home = tmp_path_factory.mktemp("serve_ui") / "home"
    port = free_port()
    env = service_env(home, LASSO_UI="1")
    proc = spawn([sys.executable, "-m", "api.serve", "--port", str(port)], env, home.parent / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc)
        keys = subprocess.run([sys.executable, "-m", "api.keys", "create", "--credits", "100", "--scopes",
                               "files:write,files:read,audio:separate", "--name", "ui test"], env=env,
                              capture_output=True, text=True, check=True)
        yield {"base": base, "env": env, "first_key": (home / "first_api_key.txt").read_text().strip(),
               "metered_key": keys.stdout.strip().splitlines()[-1]}
    finally:
        stop(proc, timeout=40)
        for name in ("worker", "redis"):  # serve's children, in their own sessions, if serve left them behind
            stop_group(home / f"{name}.pid")
        print((home.parent / "serve.log").read_text()[-3000:])


def stop_group(pid_file: Path, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, the process group whose leader's pid is in `pid_file` (not our child: polled)."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def credits_left(env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "api.keys", "list"], env=env, capture_output=True, text=True,
                         check=True).stdout
    return next(line.split("\t")[3] for line in out.splitlines() if line.endswith("ui test"))


def replay(base: str, body: dict, key: str) -> dict:
    """Send the page's own run call straight to Gradio's queue API (same session, so the loaded input), with `key`
    in the API key field; returns Gradio's process_completed message."""
    from app.app import RUN_INPUTS

    data = list(body["data"])
    data[RUN_INPUTS.index("api_key")] = key
    with httpx.Client(base_url=base + "/ui/gradio_api", timeout=TIMEOUT_MS / 1000) as http:
        event_id = http.post("/queue/join", json=body | {"data": data}).json()["event_id"]
        with http.stream("GET", "/queue/data", params={"session_hash": body["session_hash"]}) as r:
            for line in r.iter_lines():
                msg = json.loads(line[6:]) if line.startswith("data: ") else {}
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    return msg
    raise AssertionError("the queue stream ended without completing the call")


def test_ui_runs_only_through_the_queue_with_a_key(served, browser):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    calls: list[dict] = []
    page.on("request", lambda r: calls.append(r.post_data_json) if "/queue/join" in r.url else None)
    try:
        page.goto(served["base"] + "/ui/")
        key_box = page.locator("#api-key input")
        # a local user of a loopback server is signed in with the first key
        expect(key_box).to_have_value(served["first_key"])

        # signed out: the page cannot separate
        key_box.fill("")
        page.locator("#example-piano_and_dog").click()
        expect(page.locator("#overview img")).to_be_visible()  # the input is loaded
        expect(page.locator("#prompt textarea")).to_have_value("piano")
        page.locator("#run").click()
        expect(page.get_by_text("sign in: paste an API key")).to_be_visible()
        run_call = next(c for c in reversed(calls) if "piano" in c["data"])
        key_box.fill("not-a-key")
        page.locator("#run").click()
        expect(page.get_by_text("invalid or revoked API key")).to_be_visible()  # the API's 401, readable

        # with the metered key: the run is a queue job of that key, charged once it completes
        key_box.fill(served["metered_key"])
        page.locator("#run").click()
        expect(history_cell(page, 0, 0)).to_have_text(re.compile(r"^\s*1\s*$"))
        expect(page.locator("#target")).not_to_contain_text("Empty")
        request_id = re.search(r"request (\S+)", page.locator("#timing").inner_text())[1].strip("`")
    except Exception:
        page.screenshot(path="/tmp/ui_queue_failure.png", full_page=True)
        page.close()
        raise
    try:  # the page stays open: its Gradio session holds the loaded input that the replays below refer to
        http = httpx.Client(base_url=served["base"], headers={"Authorization": f"Bearer {served['metered_key']}"})
        assert http.get(f"/v1/queue/requests/{request_id}/status").json()["status"] == "COMPLETED"
        usage = http.get(f"/v1/queue/requests/{request_id}/result").json()["usage"]
        assert usage["quantity"] == EXAMPLE_SECONDS and usage["billing_status"] != "not_metered"
        assert credits_left(served["env"]) == f"{100 - EXAMPLE_SECONDS:g} s"

        # Gradio's own HTTP API reaches the same handler: the page's call sent directly without a key is refused
        # by that handler (its "sign in" answer) and separates nothing
        refused = replay(served["base"], run_call, "")
        assert not refused["success"] and "sign in" in json.dumps(refused)
        assert credits_left(served["env"]) == f"{100 - EXAMPLE_SECONDS:g} s"
    finally:
        page.close()
