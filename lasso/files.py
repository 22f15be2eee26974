"""Files in, files out: the one path from an input file to target/residual files, shared by CLI, app and API worker.

For a video input the separated audio is also muxed back into copies of the video (picture stream copied, not
re-encoded), so users get a target video and a residual video.
"""

from __future__ import annotations  # the Separator types below are for checkers: muxing and writing need no torch

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lasso.audio import OUTPUT_FORMATS, FileSink, FileSource, ffmpeg_exe
from lasso.errors import AudioError, UnsupportedFormatError
from lasso.options import SeparationOptions

if TYPE_CHECKING:
    from lasso.separator import ProgressCallback, SeparationResult, Separator

VIDEO_EXTS = {".mp4", ".mov", ".webm", ".mkv"}
_VIDEO_AUDIO_CODEC = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}


@dataclass
class FileOutputs:
    target: Path
    residual: Path
    duration: float  # seconds
    sample_rate: int
    channels: int
    result: SeparationResult
    target_video: Path | None = None
    residual_video: Path | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no audio arrays)."""
        outputs = {"target": str(self.target), "residual": str(self.residual)}
        if self.target_video:
            outputs |= {"target_video": str(self.target_video), "residual_video": str(self.residual_video)}
        return {"prompt": self.result.prompt, "duration": self.duration, "sample_rate": self.sample_rate,
                "channels": self.channels, "outputs": outputs, "spans": [s.to_dict() for s in self.result.spans],
                "candidates": [{k: v for k, v in c.items() if k not in ("target", "residual")}
                               for c in self.result.candidates],
                "timings": self.result.timings}


def has_video_stream(path: Path) -> bool:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return any("Stream #" in line and "Video:" in line and "attached pic" not in line
               for line in proc.stderr.splitlines())


def mux_video(video: Path, audio: Path, out: Path) -> Path:
    """Copy `video`'s picture stream and put `audio` beside it (re-encoded to the container's usual codec)."""
    codec = _VIDEO_AUDIO_CODEC.get(video.suffix.lower(), "aac")
    tmp = out.with_name(f".{out.name}.part{out.suffix}")
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", "-c:a", codec, "-b:a", "192k", "-shortest", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"could not write the video {out.name}: {proc.stderr.decode(errors='replace')[:300]}")
    tmp.replace(out)
    return out


def separate_file(separator: Separator, path: str | Path, out_dir: str | Path, prompt: str,
                  options: SeparationOptions | None = None, *, output_format: str = "wav",
                  progress: ProgressCallback | None = None, **overrides: Any) -> FileOutputs:
    """Separate the file at `path` with `options` (and keyword `overrides`, as `Separator.separate` takes them);
    write outputs into `out_dir`.

    The input is streamed from disk and the outputs to disk chunk by chunk, so memory does not grow with the
    length of the input. Outputs appear under their final names only when complete.
    """
    path, out_dir = Path(path), Path(out_dir)
    if output_format not in OUTPUT_FORMATS:
        raise UnsupportedFormatError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".work-") as work:
        source = FileSource(path, work, max_duration=separator.defaults.max_duration)
        try:
            if source.peak() == 0.0:
                raise AudioError(f"{path.name} is silent: there is nothing to separate")
            target = out_dir / f"target.{output_format}"
            residual = out_dir / f"residual.{output_format}"
            sink = FileSink(target, residual, source.sample_rate, source.channels)
            try:
                res = separator.separate(source, source.sample_rate, prompt, options, progress=progress, sink=sink,
                                         **overrides)
                sink.finish(output_format)
            except BaseException:
                sink.abort()
                raise
        finally:
            source.close()
    outputs = FileOutputs(target, residual, source.num_samples / source.sample_rate, source.sample_rate,
                          source.channels, res)
    if path.suffix.lower() in VIDEO_EXTS and has_video_stream(path):
        ext = path.suffix.lower()
        outputs.target_video = mux_video(path, target, out_dir / f"target_video{ext}")
        outputs.residual_video = mux_video(path, residual, out_dir / f"residual_video{ext}")
    return outputs
