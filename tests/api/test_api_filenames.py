"""Client-supplied names never become paths (the `file_name` traversal): refused at the door, ignored by the worker."""

import tempfile
from pathlib import Path

import pytest
from sqlalchemy import update

from api.db import session_scope
from api.filenames import INPUT_SUFFIXES, check_file_name, local_input_name
from api.models import Job, StoredFile
from api.settings import get_settings
from tests.api.helpers import submit, upload, wav_bytes

HOSTILE = ["/tmp/lasso-evil/x.pth", "../../../tmp/lasso-evil/y.wav", "..\\..\\evil.wav", "a/b.wav", "..",
           "%2e%2e%2fevil.wav", "a\x00b.wav", "line\nbreak.wav", "x" * 256 + ".wav"]


def test_input_suffixes_are_what_lasso_decodes():
    from lasso.audio import FFMPEG_EXTS, SOUNDFILE_EXTS

    assert INPUT_SUFFIXES == SOUNDFILE_EXTS | FFMPEG_EXTS


@pytest.mark.parametrize("name", ["/etc/passwd", "../x.wav", "C:\\x.wav", "a\tb.wav", "..", "a..b.wav", ""])
def test_check_file_name_refuses_paths(name):
    with pytest.raises(ValueError):
        check_file_name(name)


@pytest.mark.parametrize("name, local", [("Take 3.WAV", "input.wav"), ("x.pth", "input.bin"), ("noext", "input.bin"),
                                         ("/abs/evil.mp3", "input.mp3"), ("..\\..\\a.flac", "input.flac")])
def test_local_names_keep_only_a_known_suffix(name, local):
    assert local_input_name(name) == local


@pytest.mark.parametrize("name", HOSTILE)
def test_post_files_refuses_path_like_names(client, auth, name):
    body = {"file_name": name, "content_type": "audio/wav", "file_size": 100, "purpose": "audio.separate.input"}
    r = client.post("/v1/files", headers=auth, json=body)
    if name == "%2e%2e%2fevil.wav":  # percent signs are plain characters here: accepted, and harmless as a label
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_REQUEST" and r.json()["error"]["param"] == "file_name"


@pytest.mark.parametrize("template", ["{outside}/evil.pth", "{outside}/evil.wav", "../{unique}.wav",
                                      "..\\{unique}.wav", "../../../{outside}/evil.wav", "a\x00b.wav"])
def test_worker_never_writes_outside_its_folder(client, auth, run_worker, tmp_path, template):
    """A hostile stored name (a row from before the check, or forged): the job runs, nothing lands where it points.

    The names point into folders that exist (the old worker copied the input to `tmp / name`), so a write would succeed.
    """
    outside = tmp_path / "outside"
    outside.mkdir()
    unique = f"lasso-evil-{tmp_path.name}"
    name = template.format(outside=outside, unique=unique)
    fid = upload(client, auth, wav_bytes(1.0))
    rid = submit(client, auth, fid)
    with session_scope(get_settings().database) as s:
        s.execute(update(StoredFile).where(StoredFile.id == fid).values(file_name=name))
        s.execute(update(Job).where(Job.id == rid).values(input_name=name))
    run_worker()
    status = client.get(f"/v1/queue/requests/{rid}/status", headers=auth).json()
    assert status["status"] == ("COMPLETED" if local_input_name(name) == "input.wav" else "FAILED"), status
    assert not any(outside.iterdir())
    assert not (Path(tempfile.gettempdir()) / f"{unique}.wav").exists()
