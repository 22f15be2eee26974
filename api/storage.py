"""One storage interface for inputs and outputs: local disk (URLs signed and served by the API) or S3 (presigned).

Objects are addressed by keys such as `inputs/file_x/input.wav` and `outputs/req_x/target.wav`. Writers stage data
in a local file first (`put_file`), so uploads stream to disk and S3 receives a complete object.
"""

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from api.signing import signed_url


class Storage(Protocol):
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at `path` under `key` (the file may be moved away)."""

    def get_file(self, key: str, dest: Path) -> Path:
        """Copy the object to `dest` and return it."""

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix` (missing objects are fine: cleanup is idempotent)."""

    def download_url(self, key: str, *, base_url: str, expires_at: datetime, file_name: str,
                     content_type: str) -> str:
        """A URL that downloads the object until `expires_at`."""

    def staging_dir(self) -> Path:
        """A local folder for partial uploads, on the same filesystem as the objects when possible."""


class LocalStorage:
    def __init__(self, root: Path, signing_key: bytes) -> None:
        self.root = root.resolve()
        self.key = signing_key
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root not in p.parents:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return p

    def put_file(self, key: str, path: Path) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), dest)

    def get_file(self, key: str, dest: Path) -> Path:
        shutil.copyfile(self.path(key), dest)
        return dest

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        p = self.path(prefix.rstrip("/"))
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)

    def download_url(self, key: str, *, base_url: str, expires_at: datetime, file_name: str,
                     content_type: str) -> str:
        return signed_url(base_url, f"/v1/blobs/{key}", self.key, "download", key, int(expires_at.timestamp()))

    def staging_dir(self) -> Path:
        d = self.root / ".staging"
        d.mkdir(parents=True, exist_ok=True)
        return d


class S3Storage:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3  # only when configured
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        # SigV4: boto3 presigns with SigV2 in us-east-1 (and when no region is set), which S3 refuses for buckets
        # created since mid-2020 and in the newer regions. The region (AWS_REGION) must be the bucket's.
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=Config(signature_version="s3v4"))

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._k(key))
        Path(path).unlink(missing_ok=True)

    def get_file(self, key: str, dest: Path) -> Path:
        self.client.download_file(self.bucket, self._k(key), str(dest))
        return dest

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError:
            return False

    def delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._k(prefix))
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if not keys:
                continue
            # S3 answers 200 with per-key errors: raise, so retention cleanup retries rather than forgets them
            errors = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                                                ).get("Errors", [])
            if errors:
                raise OSError(f"S3 did not delete {len(errors)} objects under {prefix!r}, e.g. {errors[0]}")

    def download_url(self, key: str, *, base_url: str, expires_at: datetime, file_name: str,
                     content_type: str) -> str:
        ttl = max(1, int(expires_at.timestamp() - datetime.now(expires_at.tzinfo).timestamp()))
        params = {"Bucket": self.bucket, "Key": self._k(key), "ResponseContentType": content_type,
                  "ResponseContentDisposition": f'attachment; filename="{file_name}"'}
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=min(ttl, 7 * 86400))

    def staging_dir(self) -> Path:
        return Path(tempfile.gettempdir())


def make_storage(url: str, *, signing_key: bytes, s3_endpoint_url: str | None = None) -> Storage:
    """`file:///abs/dir` (or a plain path) or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, s3_endpoint_url)
    if parsed.scheme in ("file", ""):
        return LocalStorage(Path(parsed.path if parsed.scheme else url), signing_key)
    raise ValueError(f"unsupported LASSO_STORAGE_URL scheme: {parsed.scheme!r}")
