"""Request dependencies as `Annotated` aliases: settings, DB session, storage, the caller's API key and its scopes.

Auth lives here and nowhere else: a route states `Key = Depends(scoped("files:write"))` and its body runs only for a
live key holding that scope (401 without a valid key, 403 without the scope).
"""

import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import crud
from api.errors import Forbidden, Unauthorized
from api.models import ApiKey
from api.settings import Settings
from api.storage import Storage

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its thread pool, and each of
# those hand-offs costs more than the work (they were most of a status request's time).

async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


# Closing a session hands its connection back to the pool. It runs in threads of its own: if it waited for the
# request thread pool, requests holding every pooled connection could wait behind requests that need one (a deadlock
# until the pool's 30 s timeout, seen with 400 concurrent status requests).
_closers = anyio.CapacityLimiter(8)


async def get_session(request: Request) -> AsyncIterator[Session]:
    session = request.app.state.sessionmaker()  # no I/O: a connection is taken at the first query
    try:
        yield session
    finally:
        await anyio.to_thread.run_sync(session.close, limiter=_closers)


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
StorageDep = Annotated[Storage, Depends(get_storage)]


class KeyCache:
    """Keys verified in the last `ttl` seconds, so a status poll costs no key lookup.

    Per process, by the key's hash. A revoked key or a changed scope takes effect within `ttl` in every API process.
    Metered keys are never cached: submit checks their balance, which each completed job lowers.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._keys: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> ApiKey | None:
        hit = self._keys.get(digest)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, digest: str, key: ApiKey) -> None:
        if self.ttl <= 0 or key.credits is not None:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._keys) >= self.MAX_ENTRIES:
                self._keys = {d: hit for d, hit in self._keys.items() if hit[0] > now}
            if len(self._keys) < self.MAX_ENTRIES:
                self._keys[digest] = (now + self.ttl, key)


async def current_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`", headers=challenge)
    cache: KeyCache = request.app.state.key_cache
    digest = crud.hash_key(token.strip())
    key = cache.get(digest)
    if key is None:  # the lookup, in the thread pool (database I/O never runs on the event loop)
        key = await run_in_threadpool(_lookup, request.app.state.sessionmaker, token.strip())
        if key is None:
            raise Unauthorized("invalid or revoked API key", headers=challenge)
        cache.put(digest, key)  # only on a lookup: a hit never extends the entry
    return key


def _lookup(sessionmaker, secret: str) -> ApiKey | None:
    with sessionmaker() as session:
        return crud.authenticate(session, secret=secret)


def scoped(scope: str) -> Callable[..., ApiKey]:
    """A dependency returning the caller's key after checking it holds `scope`."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if scope not in key.scope_set:
            raise Forbidden(f"this API key lacks the `{scope}` scope")
        return key

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check


def base_url(request: Request, settings: Settings) -> str:
    """Where clients reach this API: LASSO_PUBLIC_URL, else the URL of the current request."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


ModelsReader = Annotated[ApiKey, Depends(scoped("models:read"))]
FilesWriter = Annotated[ApiKey, Depends(scoped("files:write"))]
FilesReader = Annotated[ApiKey, Depends(scoped("files:read"))]
AudioCaller = Annotated[ApiKey, Depends(scoped("audio:separate"))]
