"""Files in, files out through lasso.files and the CLI: every input format, video remux, bad input, batches."""

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lasso import AudioError, Separator, UnsupportedFormatError
from lasso.audio import ffmpeg_exe, load_audio
from lasso.cli import main as cli_main
from lasso.cli import parse_span_list
from lasso.files import has_video_stream, separate_file
from lasso.spans import Span

EXAMPLE = "examples/speech_and_rain.flac"


@pytest.fixture(scope="module")
def sep() -> Separator:
    return Separator.from_pretrained("debug", reranker="debug")


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def _streams(path) -> str:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


@pytest.mark.parametrize("ext, codec", [(".wav", []), (".flac", []), (".ogg", ["-c:a", "libvorbis"]),
                                        (".mp3", ["-c:a", "libmp3lame"]), (".m4a", ["-c:a", "aac"]),
                                        (".opus", ["-c:a", "libopus"])])
def test_audio_formats_round_trip(sep, tmp_path, ext, codec):
    src = tmp_path / f"in{ext}"
    _ffmpeg("-i", EXAMPLE, "-t", "3", *codec, str(src))
    audio, sr = load_audio(src)
    out = separate_file(sep, src, tmp_path / "out", "rain")
    target, tsr = sf.read(out.target, always_2d=True)
    residual, _ = sf.read(out.residual, always_2d=True)
    assert tsr == sr and target.shape[1] == audio.shape[0] == 2
    assert abs(target.shape[0] - audio.shape[1]) == 0
    np.testing.assert_allclose(target.T + residual.T, audio, atol=1e-5)  # float wav: the sum is exact


@pytest.mark.parametrize("ext, vcodec", [(".mp4", "libx264"), (".mov", "libx264"), (".mkv", "libx264"),
                                         (".webm", "libvpx-vp9")])
def test_video_in_gives_target_and_residual_videos(sep, tmp_path, ext, vcodec):
    src = tmp_path / f"clip{ext}"
    acodec = "libopus" if ext == ".webm" else "aac"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-i", EXAMPLE, "-t", "2",
            "-c:v", vcodec, "-c:a", acodec, "-shortest", str(src))
    out = separate_file(sep, src, tmp_path / "out", "a man speaking", output_format="mp3")
    assert out.target.suffix == ".mp3" and out.target_video.suffix == ext
    for video in (out.target_video, out.residual_video):
        assert has_video_stream(video)
        info = _streams(video)
        assert ("h264" in info) if vcodec == "libx264" else ("vp9" in info)  # picture copied, not re-encoded
        assert "Audio:" in info


@pytest.mark.parametrize("make, error, code", [
    (lambda p: p.write_bytes(b""), AudioError, "INVALID_AUDIO"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), AudioError, "INVALID_AUDIO"),
    (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), AudioError, "INVALID_AUDIO"),
])
def test_bad_audio_fails_cleanly(sep, tmp_path, make, error, code):
    src = tmp_path / "bad.wav"
    make(src)
    with pytest.raises(error) as info:
        separate_file(sep, src, tmp_path / "out", "dog")
    assert info.value.code == code and info.value.message
    assert not any((tmp_path / "out").glob("*.wav"))  # nothing half-written under a final name


def test_video_without_audio_and_unknown_type(sep, tmp_path):
    silent_video = tmp_path / "noaudio.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", "-c:v", "libx264", str(silent_video))
    with pytest.raises(AudioError, match="no audio stream"):
        separate_file(sep, silent_video, tmp_path / "out", "dog")
    doc = tmp_path / "notes.txt"
    doc.write_text("hello")
    with pytest.raises(UnsupportedFormatError):
        separate_file(sep, doc, tmp_path / "out", "dog")


def test_parse_span_list():
    assert parse_span_list("1.5-3.0,+8-9.5,-12-14") == [Span(1.5, 3.0, True), Span(8, 9.5, True),
                                                         Span(12, 14, False)]


def test_cli_separate_and_batch(tmp_path, capsys):
    rc = cli_main(["separate", EXAMPLE, "-p", "rain", "--checkpoint", "debug", "-o", str(tmp_path / "one"),
                   "--spans=-1-2"])
    assert rc == 0
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["spans"] == [{"start": 1.0, "end": 2.0, "include": False}]
    assert (tmp_path / "one" / "target.wav").exists()

    (tmp_path / "empty.wav").write_bytes(b"")
    with (tmp_path / "list.csv").open("w", newline="") as f:
        w = csv.writer(f)
        example = str(Path(EXAMPLE).resolve())  # relative paths are read from the CSV's folder
        w.writerows([["input", "prompt", "spans"], [example, "rain", ""], ["empty.wav", "dog", ""],
                     [example, "a man speaking", "+0-3"]])
    rc = cli_main(["separate-batch", str(tmp_path / "list.csv"), "--checkpoint", "debug", "-o", str(tmp_path / "b")])
    assert rc == 1  # one row failed, the others were done
    results = json.loads((tmp_path / "b" / "batch_summary.json").read_text())
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["error"] == "INVALID_AUDIO"
    assert (tmp_path / "b" / "0002_speech_and_rain" / "target.wav").exists()


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    rc = cli_main(["separate", str(tmp_path / "missing.wav"), "-p", "dog", "--checkpoint", "debug"])
    assert rc == 2
    assert "error [INVALID_AUDIO]" in capsys.readouterr().err
