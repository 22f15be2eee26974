"""Audio in and out: decode anything ffmpeg can read, resample, write wav or mp3.

Arrays are float32 shaped [channels, samples] inside the library; callers may pass [samples] for mono.
soundfile (libsndfile) reads wav/flac/ogg in place; everything else (mp3, m4a, aac, opus, video containers) is
decoded to a temporary wav by the ffmpeg binary that the imageio-ffmpeg wheel ships, so no system ffmpeg is needed.
`probe` reads only the header (duration, rate, channels), so a service can refuse over-long media before decoding.
"""

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from lasso.errors import AudioError, TooLongError, UnsupportedFormatError
from lasso.options import LIMITS

if TYPE_CHECKING:
    import torch

SOUNDFILE_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
FFMPEG_EXTS = {".m4a", ".aac", ".opus", ".mp4", ".mov", ".webm", ".mkv", ".wma", ".oga"}
NATIVE_EXTS = {".wav", ".flac", ".ogg"}  # read in place by libsndfile; the rest goes through ffmpeg
OUTPUT_FORMATS = LIMITS["output_format"].choices
PROBE_TIMEOUT = 30.0  # s for ffmpeg to read a header: more means a pathological file, not a slow disk
_DURATION = re.compile(r"Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says about its audio (see `probe`)."""

    duration: float | None  # seconds; None when the container does not record it (only decoding can tell then)
    sample_rate: int  # Hz of the first audio stream
    channels: int  # as decoding will produce them


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def as_channels_first(audio: np.ndarray) -> np.ndarray:
    """Accept [samples] or [channels, samples]; return float32 [channels, samples]."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] > 64:
        raise AudioError(f"audio must be [samples] or [channels, samples], got shape {audio.shape}")
    if audio.shape[1] == 0:
        raise AudioError("the audio is empty (0 samples)")
    audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise AudioError("the audio contains NaN or infinite samples")
    return audio


def check_file(path: str | Path) -> Path:
    """The checks every input gets before decoding: exists, not empty, a type we know."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"the file is empty: {path.name}")
    ext = path.suffix.lower()
    if ext not in SOUNDFILE_EXTS | FFMPEG_EXTS:
        raise UnsupportedFormatError(f"unsupported file type {ext or '(none)'}: use one of "
                                     f"{', '.join(sorted(SOUNDFILE_EXTS | FFMPEG_EXTS))}")
    return path


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file into memory: ([channels, samples] float32, sample_rate). Long files: use FileSource."""
    with tempfile.TemporaryDirectory(prefix="lasso-decode-") as work:
        source = FileSource(path, work)
        try:
            return as_channels_first(source.read(0, source.num_samples)), source.sample_rate
        finally:
            source.close()


def probe(path: str | Path) -> AudioInfo:
    """Duration, sample rate and channels from the header alone, so callers can refuse over-long media cheaply.

    wav/flac/ogg: libsndfile's header; everything else, and those libsndfile cannot open: ffmpeg's banner
    (`ffmpeg -i` reads the container header and stops, nothing is decoded). Raises what decoding would raise:
    UnsupportedFormatError for an unknown type, AudioError for an empty, undecodable or audio-less file.
    """
    path = check_file(path)
    if path.suffix.lower() in NATIVE_EXTS:
        try:
            info = sf.info(str(path))
        except sf.LibsndfileError:  # e.g. a codec libsndfile lacks: ffmpeg may still read it, as FileSource does
            info = None
        if info is not None:
            if info.frames <= 0 or info.samplerate <= 0:
                raise AudioError(f"{path.name} contains no audio samples")
            return AudioInfo(info.frames / info.samplerate, info.samplerate, info.channels)
    return _ffmpeg_info(path)


def _ffmpeg_info(path: Path) -> AudioInfo:
    """The container's duration and the first audio stream's format, parsed from ffmpeg's banner."""
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"could not read {path.name}: its header took longer than {PROBE_TIMEOUT:g} s") from exc
    banner = proc.stderr.decode(errors="replace")  # tags may be in any encoding
    stream = next((line for line in banner.splitlines() if "Stream #" in line and "Audio:" in line), None)
    if stream is None:
        if "Invalid data" in banner or "could not find codec" in banner.lower():
            raise AudioError(f"could not decode {path.name}: not a valid audio or video file")
        raise AudioError(f"{path.name} has no audio stream")
    sample_rate, channels = _stream_format(stream, path.name)
    m = _DURATION.search(banner)
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None  # "Duration: N/A": unknown
    return AudioInfo(duration, sample_rate, channels)


def _stream_format(line: str, name: str) -> tuple[int, int]:
    """(sample_rate, channels) of a banner line such as `Stream #0:1: Audio: aac (LC), 44100 Hz, stereo, fltp`.

    Named layouts other than mono/stereo (5.1, quad, ...) count as 2: decoding downmixes them to stereo.
    """
    parts = [p.strip() for p in line.split("Audio:", 1)[1].split(",")]
    at = next((i for i, p in enumerate(parts) if p.endswith("Hz") and p.split()[0].isdigit()), None)
    if at is None:
        raise AudioError(f"could not decode {name}: the audio stream has no sample rate")
    layout = parts[at + 1] if at + 1 < len(parts) else "mono"
    channels = {"mono": 1, "stereo": 2}.get(layout.split("(")[0])
    if channels is None:
        channels = int(layout.split()[0]) if layout.split() and layout.split()[0].isdigit() else 2
    return int(parts[at].split()[0]), channels


def resample(audio: "np.ndarray | torch.Tensor", orig_sr: int, new_sr: int) -> "torch.Tensor":
    """Band-limited resampling along the last axis (torchaudio's windowed sinc).

    torch is imported here, not with the module: reading headers and files (the API's `probe`, the workbench's
    pictures) needs none, and the API process stays free of it.
    """
    import torch
    import torchaudio.functional as AF

    x = torch.as_tensor(audio)
    if orig_sr == new_sr:
        return x
    return AF.resample(x, orig_sr, new_sr)


def save_audio(path: str | Path, audio: np.ndarray, sample_rate: int, fmt: str | None = None) -> Path:
    """Write [channels, samples] float audio as wav (float32 keeps target + residual == input) or mp3."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "wav").lower()
    if fmt not in OUTPUT_FORMATS:
        raise UnsupportedFormatError(f"output format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    audio = as_channels_first(audio)
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_name(f".{path.stem}.part.wav")
    try:
        sf.write(str(wav), audio.T, sample_rate, subtype="FLOAT", format="WAV")
        finalize(wav, path, fmt)
    finally:
        wav.unlink(missing_ok=True)
    return path


def finalize(wav: Path, path: Path, fmt: str) -> None:
    """Move a finished float wav into place, or encode it to mp3 there; never a half-written file under `path`."""
    if fmt == "wav":
        wav.replace(path)
        return
    tmp = path.with_name(f".{path.name}.part")
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-codec:a", "libmp3lame", "-q:a", "2", "-f", "mp3",
           str(tmp)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"mp3 encoding failed: {proc.stderr.decode(errors='replace')[:300]}")
    tmp.replace(path)


class FileSource:
    """Random access to a decoded file without holding it in memory (lasso.separator.AudioSource).

    wav/flac/ogg are read in place; everything else is first decoded by ffmpeg into a float32 wav in `workdir`,
    so a two-hour mp3 or video costs disk space, not RAM. With `max_duration`, decoding stops just past it (a
    container whose header tells no length cannot make it fill the disk) and longer media raise TooLongError.
    """

    def __init__(self, path: str | Path, workdir: str | Path, max_duration: float | None = None) -> None:
        self.path = path = check_file(path)
        try:
            if path.suffix.lower() not in NATIVE_EXTS:
                raise RuntimeError("decode with ffmpeg")
            self._file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError):
            decoded = Path(workdir) / "decoded.wav"
            _decode_to_wav(path, decoded, None if max_duration is None else max_duration + 1.0)
            self._file = sf.SoundFile(str(decoded))
        self.sample_rate, self.channels = self._file.samplerate, self._file.channels
        self.num_samples = self._file.frames
        if self.num_samples == 0:
            raise AudioError(f"{path.name} contains no audio samples")
        if max_duration is not None and self.num_samples > max_duration * self.sample_rate:
            self._file.close()
            raise TooLongError(f"{path.name} is longer than the limit of {max_duration:.0f} s")

    def read(self, start: int, end: int) -> np.ndarray:
        self._file.seek(start)
        return self._file.read(end - start, dtype="float32", always_2d=True).T

    def peak(self, block: int = 1 << 20) -> float:
        """Largest absolute sample, read block by block (to refuse silent inputs before any work)."""
        peak = 0.0
        for start in range(0, self.num_samples, block):
            chunk = self.read(start, min(start + block, self.num_samples))
            if not np.isfinite(chunk).all():
                raise AudioError(f"{self.path.name} contains NaN or infinite samples")
            peak = max(peak, float(np.abs(chunk).max(initial=0.0)))
        return peak

    def close(self) -> None:
        self._file.close()


def _decode_to_wav(path: Path, out: Path, max_seconds: float | None = None) -> None:
    info = _ffmpeg_info(path)
    limit = [] if max_seconds is None else ["-t", f"{max_seconds:.3f}"]  # output stops there
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-vn", "-map", "0:a:0", "-ac", str(info.channels),
           "-ar", str(info.sample_rate), *limit, "-c:a", "pcm_f32le", "-f", "wav", str(out)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not out.exists():
        raise AudioError(f"could not decode {path.name}: {proc.stderr.decode(errors='replace').strip()[:300]}")


class FileSink:
    """Write target and residual blocks as they are finished (float32 wav; mp3 is encoded from it at the end)."""

    def __init__(self, target: Path, residual: Path, sample_rate: int, channels: int) -> None:
        self.paths = (target, residual)
        self.parts = [p.with_name(f".{p.stem}.part.wav") for p in self.paths]
        self.files = [sf.SoundFile(str(p), "w", sample_rate, channels, subtype="FLOAT", format="WAV")
                      for p in self.parts]

    def __call__(self, start: int, target: np.ndarray, residual: np.ndarray) -> None:
        self.files[0].write(target.T)
        self.files[1].write(residual.T)

    def finish(self, fmt: str) -> None:
        """Close and move into place (encoding to mp3 if asked): no half-written output under the final name."""
        for f in self.files:
            f.close()
        for part, final in zip(self.parts, self.paths, strict=True):
            try:
                finalize(part, final, fmt)
            finally:
                part.unlink(missing_ok=True)

    def abort(self) -> None:
        for f, part in zip(self.files, self.parts, strict=True):
            f.close()
            part.unlink(missing_ok=True)
