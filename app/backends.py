"""Where the workbench's separations run.

`lasso app` (research on one's own machine) runs them in its own process (`InProcess`). Mounted at /ui by
`lasso serve`, the workbench is a client of the queue API like any other (`ViaQueue`): each run is uploaded and
submitted with the key the person signed in with, so it has that key's scopes, credits and limits, the workers do
the work, and the API process never loads a model. A direct call to Gradio's own API reaches the same handler, so
it needs a key too.
"""

import ipaddress
import mimetypes
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import numpy as np

from app.runtime import ERROR_TITLES, WORK_DIR, get_separator, load_input
from lasso import SeparationOptions, load_audio

POLL_SECONDS = 0.5  # between status requests while a job runs
MAX_WAIT = 3 * 3600.0  # s a page waits for its job (the job itself goes on, and its request id is shown)
API_ERROR_TITLES = {"INVALID_API_KEY": "Sign in with an API key", "INSUFFICIENT_SCOPE": "This key may not separate",
                    "INSUFFICIENT_CREDITS": "No credits left", **ERROR_TITLES}
_PERCENT = re.compile(r"\((\d+)%\)")


@dataclass
class Outcome:
    """What the page shows of one separation (the parts of lasso's SeparationResult it reads)."""

    target: np.ndarray  # [channels, samples] at the input's rate
    residual: np.ndarray
    prompt: str
    spans: list = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    request_id: str | None = None  # the queue job, when the run went through the API


class InProcess:
    """Separate in this process with a cached Separator (the standalone workbench)."""

    needs_key = False
    concurrency = 1  # one model in this process: runs take turns

    def __init__(self, checkpoint: str | None) -> None:
        self.checkpoint = checkpoint

    def separate(self, path: str, prompt: str, options: SeparationOptions, progress: Callable[[dict], None],
                 key: str | None, request: gr.Request | None) -> Outcome:
        audio, sr = load_input(path)
        res = get_separator(self.checkpoint).separate(audio, sr, prompt, options, progress=progress)
        return Outcome(res.target, res.residual, res.prompt, res.spans, res.candidates, res.timings)

    def check_key(self, key: str | None) -> None:
        """`lasso app` runs on the user's own machine: no key."""

    def sign_in(self, request: gr.Request) -> str:
        return ""


class ViaQueue:
    """Send each run through the queue API under the person's key (the workbench mounted by the API)."""

    needs_key = True
    concurrency = 32  # pages waiting on their jobs at once; the queue and its workers set the pace

    def __init__(self, api_url: str | None = None, local_key_file: Path | None = None) -> None:
        self.api_url = api_url.rstrip("/") if api_url else None  # None: the address the page was served from
        self.local_key_file = local_key_file

    def sign_in(self, request: gr.Request) -> str:
        """The service's first key for someone on the machine itself, so `lasso serve` works at once locally.

        Only when both ends of the connection are loopback and no proxy header says it was forwarded: a server
        reachable from the network never hands its key to a remote page.
        """
        if self.local_key_file is None or not self.local_key_file.exists() or not _is_local(request):
            return ""
        return self.local_key_file.read_text().strip()

    def check_key(self, key: str | None) -> None:
        """A run needs a key before anything else is looked at (the API then checks it)."""
        if not (key or "").strip():
            raise gr.Error("sign in: paste an API key (create one with `lasso keys create`) in the API key box",
                           title=API_ERROR_TITLES["INVALID_API_KEY"], print_exception=False)

    def separate(self, path: str, prompt: str, options: SeparationOptions, progress: Callable[[dict], None],
                 key: str | None, request: gr.Request | None) -> Outcome:
        self.check_key(key)
        started = time.perf_counter()
        base = self.api_url or _server_url(request)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key.strip()}"}, timeout=60) as http:
            file_id = _upload(http, Path(path))
            body = {"file_id": file_id, "prompt": prompt, "output_format": "wav", **options.settings()}
            if options.spans:
                body["spans"] = [s.to_dict() for s in options.spans]
            job = _checked(http.post("/v1/queue/audio/separate", json={"input": body}))
            _wait(http, job["status_url"], progress)
            result = _checked(http.get(job["result_url"]))["data"]
            with tempfile.TemporaryDirectory(dir=_work_dir()) as tmp:
                target = _download(result["target"]["url"], Path(tmp) / "target.wav")
                residual = _download(result["residual"]["url"], Path(tmp) / "residual.wav")
                (t, _), (r, _) = load_audio(target), load_audio(residual)
        return Outcome(t, r, prompt, timings={"queue job": time.perf_counter() - started},
                       request_id=job["request_id"])


def _is_local(request: gr.Request | None) -> bool:
    scope = getattr(getattr(request, "request", None), "scope", None) or {}
    headers = {k.decode().lower() for k, _ in scope.get("headers", [])}
    ends = [scope.get("client"), scope.get("server")]
    if not all(ends) or headers & {"forwarded", "x-forwarded-for", "x-real-ip"}:
        return False
    try:
        return all(ipaddress.ip_address(end[0]).is_loopback for end in ends)
    except ValueError:
        return False


def _server_url(request: gr.Request | None) -> str:
    """The API at the address this page was served from (the same server)."""
    scope = getattr(getattr(request, "request", None), "scope", None) or {}
    if not scope.get("server"):
        raise gr.Error("the API's address is unknown: set LASSO_PUBLIC_URL", title="Not configured",
                       print_exception=False)
    host, port = scope["server"]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _checked(response: httpx.Response) -> dict[str, Any]:
    """The body of a 2xx answer; the API's error body becomes a readable page error."""
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {"code": "", "message": f"HTTP {response.status_code}"}
    raise gr.Error(error["message"], title=API_ERROR_TITLES.get(error["code"], "The service refused the run"),
                   print_exception=False)


def _upload(http: httpx.Client, path: Path) -> str:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    created = _checked(http.post("/v1/files", json={"file_name": path.name, "content_type": content_type,
                                                    "file_size": path.stat().st_size,
                                                    "purpose": "audio.separate.input"}))
    with path.open("rb") as f:  # a signed URL: no key goes with it
        _checked(httpx.put(created["upload_url"], content=f, headers=created["headers"], timeout=600))
    return created["file_id"]


def _wait(http: httpx.Client, status_url: str, progress: Callable[[dict], None]) -> None:
    """Poll the job's status (with its log lines) until it is COMPLETED or FAILED."""
    deadline = time.monotonic() + MAX_WAIT
    while True:
        status = _checked(http.get(status_url, params={"logs": "true"}))
        if status["status"] in ("COMPLETED", "FAILED"):
            return
        if time.monotonic() > deadline:
            raise gr.Error(f"request {status['request_id']} is still {status['status']} after {MAX_WAIT:g} s; "
                           "it goes on in the queue: follow it in /v1", print_exception=False)
        last = status.get("logs", [])[-1]["message"] if status.get("logs") else status["status"].lower()
        percent = _PERCENT.search(last)
        progress({"stage": f"{status['status'].lower().replace('_', ' ')}: {last}",
                  "fraction": int(percent[1]) / 100 if percent else 0.0})
        time.sleep(POLL_SECONDS)


def _download(url: str, out: Path) -> Path:
    """A signed download URL (the API's, or S3's presigned one, which refuses a second credential)."""
    with httpx.stream("GET", url, timeout=600) as r, out.open("wb") as f:
        if not r.is_success:
            r.read()
            _checked(r)
        for chunk in r.iter_bytes():
            f.write(chunk)
    return out


def _work_dir() -> Path:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return WORK_DIR
