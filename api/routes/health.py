"""Liveness for load balancers and `lasso serve`: database and broker reachable.

It answers without a key, so it says only `ok` or `unreachable`; what went wrong goes to the log.
"""

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep

router = APIRouter(include_in_schema=False)
log = logging.getLogger("api")


@router.get("/healthz")
def healthz(request: Request, session: SessionDep) -> JSONResponse:
    checks = {"database": "ok", "broker": "ok"}
    try:
        session.execute(text("SELECT 1"))
    except Exception:  # report, don't raise: this endpoint describes failures
        log.exception("health: database unreachable")
        checks["database"] = "unreachable"
    client = getattr(request.app.state.broker, "client", None)  # RedisBroker
    if client is not None:
        try:
            client.ping()
        except Exception:
            log.exception("health: broker unreachable")
            checks["broker"] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)
