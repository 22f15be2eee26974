"""A small synchronous client of the API for the end-to-end tests and the load benchmark."""

import json
import time

import httpx


class LassoClient:
    def __init__(self, base: str, key: str, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)

    def upload(self, data: bytes, content_type: str = "audio/wav", name: str = "clip.wav") -> str:
        r = self.http.post("/v1/files", json={"file_name": name, "content_type": content_type,
                                              "file_size": len(data), "purpose": "audio.separate.input"})
        r.raise_for_status()
        b = r.json()
        put = httpx.put(b["upload_url"], content=data, headers=b["headers"], timeout=120)
        put.raise_for_status()
        return b["file_id"]

    def submit(self, file_id: str, prompt: str = "the tone", **extra) -> dict:
        r = self.http.post("/v1/queue/audio/separate", json={"input": {"file_id": file_id, "prompt": prompt}} | extra)
        assert r.status_code == 202, r.text
        return r.json()

    def status(self, rid: str, logs: bool = False) -> dict:
        r = self.http.get(f"/v1/queue/requests/{rid}/status", params={"logs": str(logs).lower()})
        r.raise_for_status()
        return r.json()

    def wait(self, rid: str, timeout: float = 120.0, until=("COMPLETED", "FAILED")) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status(rid, logs=True)
            if s["status"] in until:
                return s
            time.sleep(0.2)
        raise TimeoutError(f"{rid} still {s['status']} after {timeout} s: {s.get('logs', [])[-3:]}")

    def stream(self, rid: str, interval: float = 1) -> list[tuple[str, dict]]:
        events = []
        with self.http.stream("GET", f"/v1/queue/requests/{rid}/status/stream", params={"interval": interval},
                              timeout=httpx.Timeout(60, read=120)) as r:
            r.raise_for_status()
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
        return events
