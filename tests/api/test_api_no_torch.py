"""The API process never needs torch: routes validate, store and enqueue; the mounted workbench only calls the API.

Run in a fresh interpreter where importing torch fails, so anything that reaches for it breaks the test.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys

    class NoTorch:  # refuse torch and torchaudio, as on an API replica installed without them
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchaudio"):
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, NoTorch())
    from fastapi.testclient import TestClient

    from api import crud
    from api.db import session_scope
    from api.main import create_app
    from api.settings import get_settings
    from tests.api.helpers import submit, upload, wav_bytes

    app = create_app()
    assert any(getattr(r, "path", None) == "/ui" for r in app.routes), "the workbench was not mounted"
    client = TestClient(app)
    with session_scope(get_settings().database) as s:
        _, secret = crud.create_api_key(s, scopes=list(crud.SCOPES))
    headers = {"Authorization": f"Bearer {secret}"}
    file_id = upload(client, headers, wav_bytes(2.0))  # the PUT reads the media header (lasso.probe)
    request_id = submit(client, headers, file_id, spans=[{"start": 0.5, "end": 1.0}], acceleration="fast")
    assert client.get(f"/v1/queue/requests/{request_id}/status", headers=headers).json()["status"] == "IN_QUEUE"
    bad = client.post("/v1/queue/audio/separate", headers=headers,
                      json={"input": {"file_id": file_id, "prompt": "x", "spans": [{"start": 2, "end": 1}]}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input.spans.0.end", bad.text
    assert client.get("/ui/").status_code == 200
    assert "torch" not in sys.modules
    print("ok")
""")


def test_api_serves_and_mounts_the_workbench_without_torch(lasso_env):
    env = {**lasso_env, "LASSO_UI": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
