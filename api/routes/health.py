"""Liveness for load balancers and `lasso serve`: database and broker reachable."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request, session: SessionDep) -> JSONResponse:
    checks = {"database": "ok", "broker": "ok"}
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # report, don't raise: this endpoint describes failures
        checks["database"] = f"error: {exc}"
    client = getattr(request.app.state.broker, "client", None)  # RedisBroker
    if client is not None:
        try:
            client.ping()
        except Exception as exc:
            checks["broker"] = f"error: {exc}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)
