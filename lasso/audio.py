"""Audio in and out: decode anything ffmpeg can read, resample, write wav or mp3.

Arrays are float32 shaped [channels, samples] inside the library; callers may pass [samples] for mono.
soundfile (libsndfile) reads wav/flac/ogg/mp3 directly; everything else (m4a, aac, opus, video containers) goes
through the ffmpeg binary that the imageio-ffmpeg wheel ships, so no system ffmpeg is needed.
"""

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from lasso.errors import AudioError, UnsupportedFormatError

SOUNDFILE_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
FFMPEG_EXTS = {".m4a", ".aac", ".opus", ".mp4", ".mov", ".webm", ".mkv", ".wma", ".oga"}
OUTPUT_FORMATS = ("wav", "mp3")


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


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file to ([channels, samples] float32, sample_rate)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"the file is empty: {path.name}")
    ext = path.suffix.lower()
    if ext not in SOUNDFILE_EXTS | FFMPEG_EXTS:
        raise UnsupportedFormatError(f"unsupported file type {ext or '(none)'}: use one of "
                                     f"{', '.join(sorted(SOUNDFILE_EXTS | FFMPEG_EXTS))}")
    if ext in SOUNDFILE_EXTS:
        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
            return as_channels_first(data.T), int(sr)
        except (sf.LibsndfileError, RuntimeError):
            pass  # some mp3/ogg variants libsndfile rejects; ffmpeg gets a second try
    return _load_with_ffmpeg(path)


def _probe_audio(path: Path) -> tuple[int, int]:
    """(sample_rate, channels) of the first audio stream, read from ffmpeg's banner."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        if "Stream #" in line and "Audio:" in line:
            parts = [p.strip() for p in line.split("Audio:", 1)[1].split(",")]
            sr = next(int(p.split()[0]) for p in parts if p.endswith("Hz"))
            layout = parts[2] if len(parts) > 2 else "mono"
            channels = {"mono": 1, "stereo": 2}.get(layout.split("(")[0])
            if channels is None:
                channels = int(layout.split()[0]) if layout.split()[0].isdigit() else 2
            return sr, channels
    if "Invalid data" in proc.stderr or "could not find codec" in proc.stderr.lower():
        raise AudioError(f"could not decode {path.name}: not a valid audio or video file")
    raise AudioError(f"{path.name} has no audio stream")


def _load_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    sr, channels = _probe_audio(path)
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-map", "0:a:0", "-f", "f32le", "-ac",
           str(channels), "-ar", str(sr), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise AudioError(f"could not decode {path.name}: {proc.stderr.decode(errors='replace').strip()[:300]}")
    data = np.frombuffer(proc.stdout, dtype=np.float32)
    if data.size == 0:
        raise AudioError(f"{path.name} decoded to no audio")
    return as_channels_first(data.reshape(-1, channels).T.copy()), sr


def resample(audio: np.ndarray | torch.Tensor, orig_sr: int, new_sr: int) -> torch.Tensor:
    """Band-limited resampling along the last axis (torchaudio's windowed sinc)."""
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
    tmp = path.with_name(f".{path.name}.part")
    try:
        if fmt == "wav":
            sf.write(str(tmp), audio.T, sample_rate, subtype="FLOAT", format="WAV")
        else:
            raw = np.ascontiguousarray(audio.T, dtype=np.float32).tobytes()
            cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "f32le", "-ar", str(sample_rate), "-ac",
                   str(audio.shape[0]), "-i", "-", "-codec:a", "libmp3lame", "-q:a", "2", "-f", "mp3", str(tmp)]
            proc = subprocess.run(cmd, input=raw, capture_output=True)
            if proc.returncode != 0:
                raise AudioError(f"mp3 encoding failed: {proc.stderr.decode(errors='replace')[:300]}")
        tmp.replace(path)  # never leave a half-written output under the final name
    finally:
        tmp.unlink(missing_ok=True)
    return path
