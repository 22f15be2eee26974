"""Temporary uploads: POST /v1/files hands out a signed PUT URL; GET /v1/files/{id} reports its state."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import crud, quotas
from api.deps import FilesReader, FilesWriter, SessionDep, SettingsDep, base_url
from api.errors import NotFound, UnsupportedMediaType
from api.schemas import CreateFileRequest
from api.signing import signed_url
from api.timeutil import iso
from api.views import file_view

router = APIRouter(tags=["Files"])
MEDIA_TYPES = ("audio/", "video/")
EXTRA_MEDIA_TYPES = {"application/ogg"}


def is_media_type(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return (base.startswith(MEDIA_TYPES) and len(base) > 6) or base in EXTRA_MEDIA_TYPES


@router.post("/v1/files", status_code=201)
def create_file_upload(body: CreateFileRequest, request: Request, key: FilesWriter, session: SessionDep,
                       settings: SettingsDep) -> JSONResponse:
    if not is_media_type(body.content_type):
        raise UnsupportedMediaType(f"content_type {body.content_type!r} is not audio/* or video/*",
                                   param="content_type")
    quotas.admit_upload(session, key, body.file_size, settings)
    row = crud.create_file(session, owner_id=key.id, file_name=body.file_name, content_type=body.content_type,
                           file_size=body.file_size, purpose=body.purpose, upload_ttl=settings.upload_url_ttl,
                           retention=settings.file_retention)
    session.commit()
    url = signed_url(base_url(request, settings), f"/v1/uploads/{row.id}", settings.signing_key(), "upload", row.id,
                     int(row.expires_at.timestamp()))
    body_out = {"file_id": row.id, "upload_url": url, "upload_method": "PUT",
                "headers": {"content-type": row.content_type}, "expires_at": iso(row.expires_at),
                "retention": {"delete_after": iso(row.delete_after)}}
    return JSONResponse(body_out, status_code=201)


@router.get("/v1/files/{file_id}")
def get_file(file_id: str, key: FilesReader, session: SessionDep) -> dict:
    row = crud.get_file(session, file_id=file_id, owner_id=key.id)
    if row is None:
        raise NotFound(f"no file {file_id!r}", code="FILE_NOT_FOUND", param="file_id")
    return file_view(row, crud.file_status(row))
