"""lasso.probe: duration, rate and channels from the header of real files, and the errors decoding would raise."""

import subprocess

import numpy as np
import pytest
import soundfile as sf

from lasso import AudioError, AudioInfo, UnsupportedFormatError, probe
from lasso.audio import ffmpeg_exe

EXAMPLE = "examples/speech_and_rain.flac"


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def test_probe_soundfile_wav(tmp_path):
    src = tmp_path / "tone.wav"
    sf.write(src, np.zeros((22050 * 3 // 2, 2), np.float32), 22050)
    assert probe(src) == AudioInfo(duration=1.5, sample_rate=22050, channels=2)


@pytest.mark.parametrize("ext, codec, rate", [(".mp3", "libmp3lame", 44100), (".m4a", "aac", 44100),
                                              (".opus", "libopus", 48000)])
def test_probe_compressed_audio(tmp_path, ext, codec, rate):
    src = tmp_path / f"clip{ext}"
    _ffmpeg("-i", EXAMPLE, "-t", "3", "-c:a", codec, str(src))
    info = probe(src)
    assert info.sample_rate == rate and info.channels == 2
    assert info.duration == pytest.approx(3.0, abs=0.06)  # encoder priming may add a frame


def test_probe_video_reads_its_audio_stream(tmp_path):
    src = tmp_path / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2", "-i", EXAMPLE, "-t", "2",
            "-c:v", "libx264", "-c:a", "aac", "-ac", "1", "-ar", "16000", "-shortest", str(src))
    info = probe(src)
    assert (info.sample_rate, info.channels) == (16000, 1) and info.duration == pytest.approx(2.0, abs=0.1)


def test_probe_reads_the_header_only(tmp_path):
    """Half an hour of mp3 cut to its first tenth still probes as 1800 s: the duration is the header's, not decoded."""
    src = tmp_path / "long.mp3"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1800", "-c:a", "libmp3lame", "-b:a", "8k",
            str(src))
    assert probe(src).duration == pytest.approx(1800, abs=1)
    with open(src, "r+b") as f:
        f.truncate(src.stat().st_size // 10)
    assert probe(src).duration == pytest.approx(1800, abs=1)


@pytest.mark.parametrize("name, make, error", [
    ("empty.wav", lambda p: p.write_bytes(b""), AudioError),
    ("noise.mp3", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), AudioError),
    ("corrupt.wav", lambda p: p.write_bytes(b"RIFF" + bytes(range(256)) * 8), AudioError),
    ("zero.wav", lambda p: sf.write(p, np.zeros((0, 1), np.float32), 16000), AudioError),
    ("notes.txt", lambda p: p.write_text("hello"), UnsupportedFormatError),
])
def test_probe_refuses_what_decoding_refuses(tmp_path, name, make, error):
    src = tmp_path / name
    make(src)
    with pytest.raises(error) as info:
        probe(src)
    assert info.value.code == error.code and info.value.message


def test_probe_video_without_audio(tmp_path):
    src = tmp_path / "noaudio.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", "-c:v", "libx264", str(src))
    with pytest.raises(AudioError, match="no audio stream"):
        probe(src)
