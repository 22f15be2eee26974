"""Request dependencies as `Annotated` aliases: settings, DB session, storage, the caller's API key and its scopes.

Auth lives here and nowhere else: a route states `Key = Depends(scoped("files:write"))` and its body runs only for a
live key holding that scope (401 without a valid key, 403 without the scope).
"""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api import crud
from api.errors import Forbidden, Unauthorized
from api.models import ApiKey
from api.settings import Settings
from api.storage import Storage


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
StorageDep = Annotated[Storage, Depends(get_storage)]


def current_key(request: Request, session: SessionDep) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`", headers=challenge)
    key = crud.authenticate(session, secret=token.strip())
    if key is None:
        raise Unauthorized("invalid or revoked API key", headers=challenge)
    return key


def scoped(scope: str) -> Callable[..., ApiKey]:
    """A dependency returning the caller's key after checking it holds `scope`."""

    def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
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
