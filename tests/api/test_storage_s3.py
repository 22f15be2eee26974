"""S3Storage against a real S3 server on loopback (moto's, in its own process): objects, prefixes, presigned URLs.

moto answers S3 over HTTP as AWS does but checks neither the signature nor the expiry of a presigned URL, so the
expiry checks read the `X-Amz-Expires` the URL carries.
"""

import os
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest

from api.storage import S3Storage, make_storage
from api.timeutil import utcnow
from tests.api.servers import AWS_OVERRIDES, FAKE_AWS, start_moto, stop


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    proc, url = start_moto(tmp_path_factory.mktemp("moto"))
    yield url
    stop(proc)


@pytest.fixture
def s3(s3_endpoint, monkeypatch) -> S3Storage:
    """A fresh bucket and an S3Storage on it under a prefix, with fake credentials in this test's environment."""
    for k in AWS_OVERRIDES:
        monkeypatch.delenv(k, raising=False)
    for k, v in FAKE_AWS.items():
        monkeypatch.setenv(k, v)
    bucket = f"lasso-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    storage = make_storage(f"s3://{bucket}/deploy/a", signing_key=b"unused", s3_endpoint_url=s3_endpoint)
    assert isinstance(storage, S3Storage)
    return storage


def keys(storage: S3Storage) -> list[str]:
    listed = storage.client.list_objects_v2(Bucket=storage.bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def staged(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_put_get_exists_under_the_prefix(s3, tmp_path):
    data = os.urandom(9 * 2**20)  # above boto3's 8 MiB multipart threshold: the path of large uploads
    src = staged(tmp_path, "upload.bin", data)
    s3.put_file("inputs/file_1/input.wav", src)
    assert not src.exists()  # the staged file is consumed, as LocalStorage moves it
    assert keys(s3) == ["deploy/a/inputs/file_1/input.wav"]
    assert s3.exists("inputs/file_1/input.wav") and not s3.exists("inputs/file_1/other.wav")
    out = s3.get_file("inputs/file_1/input.wav", tmp_path / "back.wav")
    assert out.read_bytes() == data


def test_delete_prefix_is_exact_and_idempotent(s3, tmp_path):
    for key in ("outputs/req_1/target.wav", "outputs/req_1/residual.wav", "outputs/req_10/target.wav",
                "inputs/file_1/input.wav"):
        s3.put_file(key, staged(tmp_path, "x", key.encode()))
    s3.delete_prefix("outputs/req_1/")
    assert keys(s3) == ["deploy/a/inputs/file_1/input.wav", "deploy/a/outputs/req_10/target.wav"]
    s3.delete_prefix("outputs/req_1/")  # nothing left there: no error
    s3.delete_prefix("jobs/req_1/")
    assert len(keys(s3)) == 2


def test_presigned_download_url_serves_the_object(s3, tmp_path):
    data = b"RIFF" + os.urandom(4096)
    s3.put_file("outputs/req_1/target.wav", staged(tmp_path, "t.wav", data))
    url = s3.download_url("outputs/req_1/target.wav", base_url="http://api.invalid", file_name="target.wav",
                          expires_at=utcnow() + timedelta(hours=1), content_type="audio/wav")
    assert url.startswith(f"{s3.client.meta.endpoint_url}/{s3.bucket}/deploy/a/outputs/req_1/target.wav?")
    r = httpx.get(url)  # no credentials: the URL alone grants the download
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["content-disposition"] == 'attachment; filename="target.wav"'
    assert httpx.get(url.split("?")[0]).status_code == 403  # the object is private: the signature is the grant


@pytest.mark.parametrize(("ttl", "expected"), [(timedelta(hours=1), 3600), (timedelta(days=30), 7 * 86400),
                                               (timedelta(seconds=-5), 1)])
def test_presigned_url_expires_with_the_retention(s3, ttl, expected):
    """Valid until the object's deletion, capped at SigV4's 7 days; never zero or negative."""
    url = s3.download_url("outputs/req_1/target.wav", base_url="http://api.invalid", file_name="target.wav",
                          expires_at=utcnow() + ttl, content_type="audio/wav")
    q = parse_qs(urlparse(url).query)
    assert q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert abs(int(q["X-Amz-Expires"][0]) - expected) <= 2


@pytest.mark.heavy
def test_api_job_through_s3(s3_endpoint, tmp_path):
    """The API and a worker on LASSO_STORAGE_URL=s3://: the upload lands in the bucket, the worker reads it there and
    writes the outputs there, the result's URLs are presigned S3 URLs, and retention cleanup empties the bucket."""
    import io
    import subprocess
    import sys
    import time

    import numpy as np
    import soundfile as sf

    from tests.api.client import LassoClient
    from tests.api.helpers import wav_bytes
    from tests.api.servers import REPO, aws_test_env, service_env, start_api, start_redis, start_worker

    bucket = f"lasso-{uuid.uuid4().hex[:12]}"
    env = aws_test_env(service_env(tmp_path / "home", LASSO_STORAGE_URL=f"s3://{bucket}/svc",
                                   LASSO_S3_ENDPOINT_URL=s3_endpoint, LASSO_FILE_RETENTION="10",
                                   LASSO_RESULT_RETENTION="10"))
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=bucket)

    def listed(prefix: str) -> list[str]:
        return [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]

    redis, port = start_redis(tmp_path / "redis")
    env["LASSO_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
    procs = [redis]
    try:
        api, base = start_api(env)
        procs += [api, start_worker(env)]
        key = subprocess.run([sys.executable, "-m", "api.keys", "create"], env=env, cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip().splitlines()[-1]
        c = LassoClient(base, key)
        data = wav_bytes(3.0)
        file_id = c.upload(data)  # PUT to the API's signed URL, stored with put_file
        assert listed("svc/inputs/") == [f"svc/inputs/{file_id}/input.wav"]
        rid = c.submit(file_id)["request_id"]
        assert c.wait(rid, timeout=180)["status"] == "COMPLETED"
        res = c.http.get(f"/v1/queue/requests/{rid}/result").json()
        urls = [res["data"][name]["url"] for name in ("target", "residual")]
        for url in urls:
            assert url.startswith(f"{s3_endpoint}/{bucket}/svc/outputs/{rid}/") and "X-Amz-Signature=" in url
            assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) <= 10
        target, sr = sf.read(io.BytesIO(httpx.get(urls[0]).raise_for_status().content))
        residual, _ = sf.read(io.BytesIO(httpx.get(urls[1]).raise_for_status().content))
        mix, _ = sf.read(io.BytesIO(data))
        assert sr == 16000 and target.shape == residual.shape == mix.shape
        np.testing.assert_allclose(target + residual, mix, atol=1e-3)
        assert not (tmp_path / "home" / "storage").exists()  # nothing went to local disk
        deadline = time.monotonic() + 60
        while listed("svc/") and time.monotonic() < deadline:  # the workers' retention pass, through S3
            time.sleep(0.5)
        assert listed("svc/") == []
    finally:
        for p in reversed(procs):
            stop(p)
