"""The signed URLs' endpoints (not part of the spec): the upload PUT, and downloads from local storage.

The PUT streams the body to a staging file while counting bytes, so a client cannot exceed the size it declared or
the service limit, and nothing is buffered in memory. The staged file's header gives its duration (kept for submit's
413), the one moment every storage backend has the bytes on local disk.
"""

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from api import crud
from api.deps import SessionDep, SettingsDep, StorageDep
from api.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from api.routes.files import is_media_type
from api.signing import verify
from api.storage import LocalStorage
from api.submit import media_duration
from api.views import file_view

router = APIRouter(include_in_schema=False)


@router.put("/v1/uploads/{file_id}")
async def upload(file_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 storage: StorageDep) -> JSONResponse:
    q = request.query_params
    verify(settings.signing_key(), "upload", file_id, q.get("expires"), q.get("signature"))
    row = await run_in_threadpool(crud.get_file, session, file_id=file_id, owner_id=None)
    if row is None:
        raise NotFound(f"no file {file_id!r}", code="FILE_NOT_FOUND")
    if row.uploaded:
        raise Conflict("this file was already uploaded", code="FILE_ALREADY_UPLOADED")
    content_type = request.headers.get("content-type", "")
    if not is_media_type(content_type):
        raise UnsupportedMediaType(f"content-type {content_type!r} is not audio/* or video/*")
    if content_type.split(";")[0].strip().lower() != row.content_type.split(";")[0].strip().lower():
        raise UnsupportedMediaType(f"content-type must be {row.content_type!r}, as declared")
    limit = min(row.file_size, settings.max_upload_bytes)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the declared file_size {row.file_size}")
    fd, tmp = tempfile.mkstemp(prefix=f"{file_id}.", suffix=Path(row.storage_key).suffix, dir=storage.staging_dir())
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body exceeds the declared file_size of {row.file_size} bytes")
                out.write(chunk)
        if size != row.file_size:
            raise InvalidRequest(f"received {size} bytes but file_size declared {row.file_size}",
                                 code="FILE_SIZE_MISMATCH")
        duration = await run_in_threadpool(media_duration, Path(tmp))
        await run_in_threadpool(storage.put_file, row.storage_key, Path(tmp))
    finally:
        Path(tmp).unlink(missing_ok=True)
    crud.mark_uploaded(session, row=row, size=size, retention=settings.file_retention, duration=duration)
    await run_in_threadpool(session.commit)
    return JSONResponse(file_view(row, "uploaded"))


@router.get("/v1/blobs/{key:path}")
def download(key: str, request: Request, settings: SettingsDep, storage: StorageDep) -> FileResponse:
    q = request.query_params
    verify(settings.signing_key(), "download", key, q.get("expires"), q.get("signature"))
    if not isinstance(storage, LocalStorage) or not storage.exists(key):
        raise NotFound("this file no longer exists (retention passed)", code="FILE_NOT_FOUND")
    name = key.rsplit("/", 1)[-1]
    return FileResponse(storage.path(key), filename=name)
