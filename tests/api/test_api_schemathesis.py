"""Conformance: schemathesis generates requests from ../shared/openapi.json (positive and negative) and runs every
one of its checks, with their default expectations, against the ASGI app in-process, with a valid API key.

Checks skipped, each for named responses only (the spec's owner has been told of each):
- `positive_data_acceptance`, for the answers in REFUSED_VALID_DATA: requests the schema allows but the service
  refuses, on purpose (the README's "Deliberate refusals": an empty or path-like `file_name`, a `webhookUrl` whose
  host does not resolve, an empty or non-media `content_type`, a whole number written as a decimal where an integer
  is due, a span that ends before it starts) or because the server's state decides (a generated `file_id` names no
  file; an `audio_url` that is not a public https URL, as the spec's description says).
- `status_code_conformance`, for a 400 from GET status and status/stream: the spec documents no 400 there, but a
  malformed `logs=` or `interval=` on an existing request is answered 400 INVALID_REQUEST (what
  `negative_data_rejection` wants).
- `negative_data_rejection`, for status/stream requests whose `interval` is out of range: its schema says
  `maximum: 10`, its description (and the issue) that values are clamped to 1..10, which the service does.
- `response_schema_conformance`, for the stream: its schema is `{"type": "string"}`, which schemathesis applies to
  each parsed SSE event (an object); test_api_jobs checks the events' data against QueueStatusResponse instead.
`not_a_server_error` accepts the spec's documented 502 (an `audio_url` that cannot be fetched: tests have no network).
"""

import re
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
    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502"]}},
})
REFUSED_VALID_DATA = {  # (status, code, param): why a schema-valid request gets it
    (400, "INVALID_REQUEST", "file_name"): "deliberate: an empty or path-like file name",
    (400, "INVALID_WEBHOOK_URL", "webhookUrl"): "deliberate: the host does not resolve (or is not public https)",
    (415, "UNSUPPORTED_MEDIA_TYPE", "content_type"): "deliberate: only audio/video can be separated",
    (400, "INVALID_REQUEST", "content_type"): "deliberate: an empty content_type names no media type",
    (400, "INVALID_REQUEST", "file_size"): "deliberate, strict types: 415.0 is not taken for the integer 415",
    (400, "INVALID_REQUEST", "input.reranking_candidates"): "deliberate, strict types: 8.0 is not taken for 8",
    (400, "INVALID_REQUEST", "input.spans.N.end"): "deliberate: a span must end after it starts",
    (400, "FILE_NOT_FOUND", "input.file_id"): "state: a generated file_id names no file of this key",
    (400, "INVALID_REQUEST", "input.file_id"): "state: an empty file_id names no file",
    (400, "INVALID_AUDIO_URL", "input.audio_url"): "spec's description: public https URLs only",
}
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


def _refusal(response) -> tuple | None:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None
    param = re.sub(r"\.\d+(?=\.|$)", ".N", error.get("param") or "")  # input.spans.3.end -> input.spans.N.end
    return response.status_code, error.get("code"), param


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
    if _refusal(response) in REFUSED_VALID_DATA:
        excluded.append(checks.positive_data_acceptance)
    if case.operation.path.startswith("/v1/queue/requests/"):
        if response.status_code == 400:  # malformed `logs`/`interval`: the spec documents no 400 here (see module doc)
            excluded.append(checks.status_code_conformance)
        if case.operation.path.endswith("/stream"):  # the spec types each SSE event as a string (see module doc)
            excluded.append(checks.response_schema_conformance)
            if _out_of_range((case.query or {}).get("interval")):  # "clamped from 1 to 10 seconds" (spec text)
                excluded.append(checks.negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
