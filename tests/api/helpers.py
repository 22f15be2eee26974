"""Test audio and upload helpers shared by the API tests."""

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from lasso.audio import ffmpeg_exe


def wav_bytes(seconds: float = 1.0, sr: int = 16000, channels: int = 1, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((len(t), channels))
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mp3_bytes(tmp_path: Path, seconds: float = 1.0) -> bytes:
    """An mp3 made by the ffmpeg that lasso ships (a format soundfile does not probe)."""
    src, out = tmp_path / "mp3-src.wav", tmp_path / "clip.mp3"
    src.write_bytes(wav_bytes(seconds))
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-c:a", "libmp3lame", str(out)], check=True)
    return out.read_bytes()


def headerless_mkv(tmp_path: Path, seconds: float, sr: int = 8000) -> bytes:
    """FLAC in Matroska written to a pipe: the container records no duration, so only decoding can tell it."""
    src = tmp_path / "headerless-src.wav"
    src.write_bytes(wav_bytes(seconds, sr=sr))
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(src), "-c:a", "flac", "-f", "matroska", "pipe:1"],
                         check=True, capture_output=True)
    return out.stdout


def upload(client: TestClient, headers: dict[str, str], data: bytes, content_type: str = "audio/wav",
           name: str = "clip.wav") -> str:
    """POST /v1/files then PUT the bytes; the file id."""
    r = client.post("/v1/files", headers=headers, json={"file_name": name, "content_type": content_type,
                                                          "file_size": len(data), "purpose": "audio.separate.input"})
    assert r.status_code == 201, r.text
    body = r.json()
    put = client.put(body["upload_url"].replace("http://testserver", ""), content=data,
                     headers={"content-type": content_type})
    assert put.status_code == 200, put.text
    return body["file_id"]


def submit(client: TestClient, headers: dict[str, str], file_id: str, **extra) -> str:
    body = {"input": {"file_id": file_id, "prompt": "the tone"}} | extra
    r = client.post("/v1/queue/audio/separate", headers=headers, json=body)
    assert r.status_code == 202, r.text
    return r.json()["request_id"]


class WebhookReceiver:
    """A loopback HTTP server recording POSTed webhooks; `status` is what it answers. With `stall`, it sets `got` on
    a request and answers only once `release` is set (a slow receiver)."""

    def __init__(self, status: int = 200, stall: bool = False) -> None:
        import http.server
        import threading

        self.status, self.received = status, []
        self.got, self.release = threading.Event(), threading.Event()
        if not stall:
            self.release.set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                outer.got.set()
                outer.release.wait(90)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
