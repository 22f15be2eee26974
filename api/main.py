"""create_app(): settings, database, storage and broker on `app.state`, the routers, and the one error map.

Every error leaves as the spec's ErrorResponse: ApiError subclasses carry their status and code; request
validation becomes 400 INVALID_REQUEST naming the field in `param`; anything unexpected is a logged 500.
"""

import copy
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import accesslog
from api.bodylimit import BodyLimit
from api.db import get_sessionmaker
from api.deps import KeyCache
from api.errors import ApiError
from api.routes import blobs, files, health, models, queue
from api.settings import Settings, get_settings
from api.slots import KeySlots
from api.spec import load_spec
from api.storage import make_storage
from api.worker.broker import get_broker

log = logging.getLogger("api")
HTTP_CODES = {400: "INVALID_REQUEST", 401: "INVALID_API_KEY", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 413: "FILE_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def _error(status: int, code: str, message: str, param: str | None = None, headers=None) -> JSONResponse:
    err = {"code": code, "message": message} | ({"param": param} if param else {})
    return JSONResponse({"error": err}, status_code=status, headers=headers)


def _param(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = _param(tuple(first.get("loc", ())))
    msg = first.get("msg", "invalid request").removeprefix("Value error, ")
    return _error(400, "INVALID_REQUEST", f"{param}: {msg}" if param else msg, param)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return _error(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "INTERNAL_ERROR", "internal error; the request was not completed")


def _mount_ui(app: FastAPI, settings: Settings) -> None:
    """Mount the Gradio workbench at /ui when the `app` package is present (it is optional for the API).

    Mounted here, the workbench is a client of this API: its runs are queue jobs of the key the person signs in
    with (a local user of a loopback server is signed in with the first key), never separations in this process.
    """
    try:
        import gradio as gr

        from app.app import build_demo
        from app.backends import ViaQueue
    except ImportError as exc:
        log.warning("Gradio UI not mounted at /ui (%s)", exc)
        return
    backend = ViaQueue(api_url=settings.public_url, local_key_file=settings.home / "first_api_key.txt")
    gr.mount_gradio_app(app, build_demo(backend=backend), path="/ui")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_home()
    app = FastAPI(title="AudioLasso API", version="1.0.0", docs_url="/docs", redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.sessionmaker = get_sessionmaker(settings.database)
    app.state.storage = make_storage(settings.storage, signing_key=settings.signing_key(),
                                     s3_endpoint_url=settings.s3_endpoint_url)
    app.state.broker = get_broker(settings)
    app.state.streams = KeySlots("status streams open", "TOO_MANY_STREAMS")
    app.state.fetches = KeySlots("audio_url downloads in progress", "TOO_MANY_FETCHES")
    app.state.key_cache = KeyCache(settings.key_cache_ttl)
    for router in (models.router, files.router, queue.router, blobs.router, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, settings=settings)  # before parsing, before the key check
    accesslog.install()
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)

    def openapi() -> dict:  # /docs shows the contract itself, tried against this server
        spec = copy.deepcopy(load_spec())
        spec["servers"] = [{"url": settings.public_url or "/", "description": "this server"}]
        return spec

    app.openapi = openapi
    if settings.ui:
        _mount_ui(app, settings)
    return app
