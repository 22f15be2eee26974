"""Fixtures for the API tests: an isolated LASSO_HOME, the app on a Dramatiq StubBroker, keys, test audio.

Unit tests run the routes in-process (TestClient) and the actors on a StubBroker worker with the random `debug`
model; tests under `heavy` start real servers (Redis, uvicorn, worker processes) on loopback.
"""

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api import crud
from api.db import dispose_all, session_scope
from api.settings import get_settings
from api.worker.broker import get_broker
from api.worker.context import reset_context


@pytest.fixture
def lasso_env(tmp_path, monkeypatch) -> Iterator[dict[str, str]]:
    env = {"LASSO_HOME": str(tmp_path / "home"), "LASSO_BROKER_URL": "stub://", "LASSO_UI": "0",
           "LASSO_CHECKPOINT": "debug", "LASSO_DEVICE": "cpu", "LASSO_PUBLIC_URL": "http://testserver"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("LASSO_DATABASE_URL", "LASSO_STORAGE_URL", "LASSO_ALLOW_LOOPBACK_URLS", "LASSO_SECRET_KEY"):
        monkeypatch.delenv(k, raising=False)
    get_settings.cache_clear()
    reset_context()
    get_broker(get_settings()).flush_all()
    yield env
    get_settings.cache_clear()
    reset_context()
    dispose_all()


@pytest.fixture
def app(lasso_env):
    from api.main import create_app

    return create_app()


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def make_key(lasso_env) -> Callable[..., dict[str, str]]:
    """make_key(scopes=[...], credits=None) -> Authorization headers."""

    def make(scopes: list[str] | None = None, credits: float | None = None) -> dict[str, str]:
        with session_scope(get_settings().database) as s:
            _, secret = crud.create_api_key(s, scopes=list(crud.SCOPES) if scopes is None else scopes,
                                            credits=credits)
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def auth(make_key) -> dict[str, str]:
    return make_key()


@pytest.fixture
def run_worker(app):
    """run_worker(): process every queued message on the StubBroker with a real Dramatiq worker thread."""
    import dramatiq

    import api.worker.actors  # noqa: F401  (declares the actors on the stub broker)

    broker = get_broker(get_settings())

    def run() -> None:
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)  # consumes only inside run()
        worker.start()
        try:
            for _ in range(3):  # actors enqueue follow-ups (webhooks)
                for q in ("separate", "webhooks"):
                    broker.join(q, fail_fast=False)
                worker.join()
        finally:
            worker.stop()

    return run


@pytest.fixture
def fake_dns(monkeypatch) -> dict[str, list[str]]:
    """Names resolve through this table (no DNS in tests); unknown names resolve to a public address."""
    table: dict[str, list[str]] = {}
    monkeypatch.setattr("api.netguard.resolve", lambda host, port: table.get(host, ["93.184.216.34"]))
    return table
