"""Conformance: schemathesis generates requests from ../shared/openapi.json (positive and negative) and runs all its
checks against the ASGI app in-process, with a valid API key.

Positive data of the schema can still be semantically invalid (a random `file_id` names no file, a random
`audio_url` cannot be fetched, a `content_type` is not audio): the spec documents those answers (400, 402, 409, 410,
413, 415, 502), so `positive_data_acceptance` accepts them, and `not_a_server_error` accepts the documented 502.

Two places where the spec and the checks disagree, each excused narrowly (and reported to the spec's owner):
- GET status and status/stream document no 400, but a malformed `logs=` or `interval=` on an existing request is
  answered 400 INVALID_REQUEST (what `negative_data_rejection` wants); only that response skips
  `status_code_conformance`.
- `interval` has `maximum: 10` in its schema but its description says values are clamped to 1..10 (the issue
  says so too): out-of-range numbers are clamped, and only those requests skip `negative_data_rejection`.
- The stream's schema is `{"type": "string"}`, which schemathesis applies to each parsed SSE event (an object);
  the stream skips `response_schema_conformance`, and test_api_jobs checks its events' data against
  QueueStatusResponse instead.
"""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from api.spec import SPEC_PATH

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "openapi.json"
TOKEN = "lasso_sk_conformance-test-key"
config = schemathesis.config.SchemathesisConfig.from_dict({
    "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "402", "403", "404", "409",
                                                                  "410", "413", "415", "502"]},
               "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502"]}},
})
schema = schemathesis.openapi.from_path(str(SHARED if SHARED.exists() else SPEC_PATH), config=config)
CURRENT: dict = {}


async def current_app(scope, receive, send) -> None:
    """Schemathesis binds one ASGI app at import; each test's fresh app (own LASSO_HOME) is reached through it."""
    await CURRENT["app"](scope, receive, send)


schema.app = current_app


@pytest.fixture
def known_key(lasso_env, monkeypatch) -> None:
    """A key with every scope whose secret the schemathesis config knows."""
    from api import crud
    from api.db import session_scope
    from api.models import ApiKey
    from api.settings import get_settings

    with session_scope(get_settings().database) as s:
        s.add(ApiKey(id="key_conformance", prefix=TOKEN[:16], key_hash=crud.hash_key(TOKEN),
                     scopes=",".join(crud.SCOPES)))
        seed_spec_examples(s)
    monkeypatch.setattr(get_settings(), "max_active_jobs", 10**6)  # every example may queue one (test_api_quotas: 429)
    monkeypatch.setattr("api.netguard.resolve", lambda host, port: ["93.184.216.34"])  # no DNS; fetches fail: 502
    monkeypatch.setattr("api.netguard.httpx.Client.send", _no_network)


def _out_of_range(value) -> bool:
    try:
        return not 1 <= float(value) <= 10
    except (TypeError, ValueError):
        return False


def seed_spec_examples(s) -> None:
    """Rows under the ids the spec uses as examples (file_01jabc, req_01jabc), so that the generated requests also
    reach the 200 answers of the file, status, stream and result endpoints and their bodies are validated."""
    from datetime import timedelta

    from api.models import Job, StoredFile, WebhookDelivery
    from api.timeutil import utcnow

    now = utcnow()
    s.add(StoredFile(id="file_01jabc", owner_id="key_conformance", file_name="a.wav", content_type="audio/wav",
                     file_size=10, purpose="audio.separate.input", storage_key="inputs/file_01jabc/input.wav",
                     uploaded=True, uploaded_at=now, expires_at=now + timedelta(hours=1),
                     delete_after=now + timedelta(days=1)))
    result = {"format": "wav", "duration": 1.5, "sample_rate": 16000, "channels": 1,
              "target": "outputs/req_01jabc/target.wav", "residual": "outputs/req_01jabc/residual.wav"}
    job = Job(id="req_01jabc", owner_id="key_conformance", status="COMPLETED", params={"prompt": "x"},
              input_key="inputs/file_01jabc/input.wav", input_name="input.wav", base_url="http://testserver",
              created_at=now, updated_at=now, finished_at=now, result=result, usage_quantity=2,
              billing_status="not_metered", delete_after=now + timedelta(days=1))
    job.webhook = WebhookDelivery(url="https://example.com/h", secret="whsec_x", status="delivered", attempts=1,
                                  delivered_at=now)
    s.add(job)


def _no_network(*a, **k):
    import httpx

    raise httpx.ConnectError("tests do not leave loopback")


@pytest.mark.heavy
@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_conformance(case, app, known_key):
    CURRENT["app"] = app
    response = case.call()
    excluded = []
    if case.operation.path.startswith("/v1/queue/requests/"):
        if response.status_code == 400:  # malformed `logs`/`interval`: the spec documents no 400 here (see module doc)
            excluded.append(checks.status_code_conformance)
        if case.operation.path.endswith("/stream"):  # the spec types each SSE event as a string (see module doc)
            excluded.append(checks.response_schema_conformance)
            if _out_of_range((case.query or {}).get("interval")):  # "clamped from 1 to 10 seconds" (spec text)
                excluded.append(checks.negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
