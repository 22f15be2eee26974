"""What POST /v1/queue/audio/separate checks before a job exists: a balance, webhook, metadata, spans, the media.

A remote `audio_url` is downloaded here, through the SSRF guard, into storage: the job then only reads storage, and
the client learns at once (502/413/400) when the URL is unusable rather than through a failed job. Media longer than
`max_duration` is a 413 here when its header says so (uploads are probed at their PUT, downloads before storing);
media whose header cannot be read is queued anyway and fails its job as INVALID_AUDIO, as decoding decides that.
"""

import base64
import json
import logging
import mimetypes
import os
import secrets
import tempfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from api import crud, netguard
from api.errors import (
    Conflict,
    Gone,
    InsufficientCredits,
    InvalidAudioUrl,
    InvalidRequest,
    InvalidWebhookUrl,
    PayloadTooLarge,
    UnknownFile,
    UpstreamFetchFailed,
)
from api.filenames import input_suffix, local_input_name
from api.models import ApiKey
from api.schemas import SubmitAudioSeparateRequest
from api.settings import Settings
from api.storage import Storage
from lasso import OptionError

log = logging.getLogger("api")


def check_request(body: SubmitAudioSeparateRequest, key: ApiKey, settings: Settings) -> None:
    """Everything but the media: 400 with `param`, or 402."""
    try:
        body.input.options()
    except OptionError as exc:
        raise InvalidRequest(exc.message, param=f"input.{exc.param}") from exc
    if body.metadata is not None and len(json.dumps(body.metadata)) > settings.max_metadata_bytes:
        raise InvalidRequest(f"metadata is larger than {settings.max_metadata_bytes} bytes of JSON", param="metadata")
    if body.webhook_url is not None:
        try:
            netguard.check_url(body.webhook_url, allow_loopback=settings.allow_loopback_urls)
        except (netguard.UnsafeUrl, netguard.FetchError) as exc:
            raise InvalidWebhookUrl(f"webhookUrl: {exc}", param="webhookUrl") from exc
    if key.credits is not None and key.credits <= 0:
        raise InsufficientCredits("this API key has no audio-seconds credit left")


def webhook_secret(body: SubmitAudioSeparateRequest) -> tuple[str | None, bool]:
    """(secret, generated): the client's secret, or a new `whsec_` one that the response returns once."""
    if body.webhook_url is None:
        return None, False
    if body.webhook_secret is not None:
        return body.webhook_secret, False
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(), True


def media_duration(path: Path) -> float | None:
    """Seconds of audio per the file's header (lasso.probe), or None when it cannot be read: the worker decides then.

    The file's suffix names its format, as it will for the worker.
    """
    from lasso import LassoError, probe  # the library (and torch) only once media arrives

    try:
        return probe(path).duration
    except LassoError:
        return None
    except Exception:  # a broken ffmpeg must not refuse uploads: the job reports what is wrong
        log.exception("could not probe %s", path.name)
        return None


def check_duration(duration: float | None, settings: Settings, param: str) -> None:
    """413 AUDIO_TOO_LONG (the code a worker would fail the job with) when the media is over the limit."""
    if duration is not None and duration > settings.max_duration:
        raise PayloadTooLarge(f"the media is {duration:.1f} s long; the limit is {settings.max_duration:g} s",
                              code="AUDIO_TOO_LONG", param=param)


class Media(NamedTuple):
    """A job's input in storage, with what is known of its length before decoding."""

    key: str  # storage key
    name: str  # the client's file name (a label), or the service's name of a fetched copy
    duration: float | None  # s, from the header; None when it tells none
    size: int  # bytes


def file_source(session: Session, key: ApiKey, file_id: str, settings: Settings) -> Media:
    """An uploaded file of this key; 400 unknown, 409 pending, 410 expired, 413 too long."""
    row = crud.get_file(session, file_id=file_id, owner_id=key.id)
    if row is None:
        raise UnknownFile(f"no file {file_id!r} for this API key", param="input.file_id")
    status = crud.file_status(row)
    if status == "pending":
        raise Conflict("the file has not been uploaded yet: PUT it to its upload_url first",
                       code="FILE_NOT_UPLOADED", param="input.file_id")
    if status == "expired":
        raise Gone("the file expired (upload window or retention passed)", param="input.file_id")
    check_duration(row.duration, settings, "input.file_id")
    return Media(row.storage_key, row.file_name, row.duration, row.file_size)


def _remote_name(url: str, content_type: str | None) -> str:
    """`input` plus the URL's suffix, or the one its content type implies; never more of the URL than that."""
    name = PurePosixPath(urlsplit(url).path).name
    if input_suffix(name) == ".bin" and content_type:
        name = "input" + (mimetypes.guess_extension(content_type.split(";")[0].strip()) or "")
    return local_input_name(name)


def url_source(url: str, job_id: str, settings: Settings, storage: Storage) -> Media:
    """Download `url` into storage under the job (`jobs/{job_id}/`); 413 when too large or too long."""
    allow = settings.allow_loopback_urls
    try:
        netguard.check_url(url, allow_loopback=allow)
    except (netguard.UnsafeUrl, netguard.FetchError) as exc:
        raise InvalidAudioUrl(f"audio_url: {exc}", param="input.audio_url") from exc
    fd, tmp = tempfile.mkstemp(prefix=f"{job_id}.", dir=storage.staging_dir())
    try:
        with os.fdopen(fd, "wb") as out:
            content_type = netguard.download(url, out, allow_loopback=allow, timeout=settings.fetch_timeout,
                                             max_bytes=settings.max_upload_bytes,
                                             max_redirects=settings.fetch_max_redirects)
        name = _remote_name(url, content_type)
        return _store_checked(Path(tmp), f"jobs/{job_id}/{name}", name, settings, storage)
    except netguard.UnsafeUrl as exc:  # a redirect pointed somewhere private
        raise InvalidAudioUrl(f"audio_url: {exc}", param="input.audio_url") from exc
    except netguard.TooLarge as exc:
        raise PayloadTooLarge(str(exc), code="MEDIA_TOO_LARGE", param="input.audio_url") from exc
    except netguard.FetchError as exc:
        raise UpstreamFetchFailed(f"could not fetch audio_url: {exc}", param="input.audio_url") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def _store_checked(staged: Path, key: str, name: str, settings: Settings, storage: Storage) -> Media:
    """413 when the download is too long, else store it under `key`; probed under the key's suffix, its format."""
    named = staged.with_name(staged.name + PurePosixPath(key).suffix)
    os.replace(staged, named)
    try:
        duration, size = media_duration(named), named.stat().st_size
        check_duration(duration, settings, "input.audio_url")
        storage.put_file(key, named)
    finally:
        named.unlink(missing_ok=True)
    return Media(key, name, duration, size)
