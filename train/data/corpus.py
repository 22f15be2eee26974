"""One decoded, resampled training corpus in a single int16 array, plus the manifest that indexes it.

Decoding mp3/ogg and resampling at training time would dominate the data loader on a 2-core machine, so every clip
is decoded once into `audio.npy` (memory-mapped by training) and `manifest.csv` records where each clip lives.
Splits are made per recording group, so takes of one recording never sit on both sides of train/val.
"""

import csv
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from train.data.labels import clean_label

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")  # test: held-out recordings of the real-world benchmark
SHARED_ORIGIN = "shared"  # clips from the shared data folder; anything else came from an extra manifest
_FRAME_SECONDS = 0.02  # frame used for silence trimming
_SILENCE_REL_DB = -50.0  # a frame is silent below this level relative to the clip's loudest frame ...
_SILENCE_ABS_DB = -70.0  # ... or below this absolute level (dBFS)
_PEAK = 0.9  # clips are peak-normalised before int16 storage: mixing sets gains anyway, int16 keeps resolution
_VARIANT = re.compile(r"^(high|higher|highmid|low|lower|lowmid|mid|short|long|loud|soft|med|plural|fast|slow|"
                      r"big|small|take|alt|var|version|[a-g][#b]?|x|\d+)$")


@dataclass(frozen=True)
class Clip:
    """One row of the corpus manifest; `offset`/`length` are in samples into `audio.npy`."""

    id: int
    path: str
    label: str
    source: str
    recording_id: str
    license: str
    split: str
    offset: int
    length: int
    origin: str


def default_shared_dir() -> Path:
    """The shared data folder as laid out next to the repository (`<repo>/../shared/data`)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def recording_id(path: str, dataset: str) -> str:
    """Group key of a file: dataset plus file stem without take numbers and variant words.

    "berklee/DoorSlam1.mp3" and "berklee/DoorSlam2.mp3" -> "berklee:doorslam"; foley "cattle_01".."cattle_07" ->
    one group; FSDD "3_george_12" -> "fsdd:george:3" (speaker and digit).
    """
    stem = Path(path).stem.lower()
    if dataset == "fsdd":
        digit, speaker, *_ = stem.split("_")
        return f"fsdd:{speaker}:{digit}"
    tokens = [re.sub(r"\d+$", "", t) for t in re.split(r"[_\s\-.()]+", stem)]
    kept = [t for t in tokens if t and not _VARIANT.match(t)] or [t for t in tokens if t] or [stem]
    parent = Path(path).parent.name.lower() if dataset == "foley" else ""
    return f"{dataset}:{parent + '/' if parent else ''}{''.join(kept)}"


def assign_split(rec_id: str, val_fraction: float, seed: int, test_fraction: float = 0.0) -> str:
    """Deterministic, order-free split: a stable hash of the recording group, so adding files never moves others.

    `val` (checkpoint selection) takes the lowest hash slots, `test` (the real-world benchmark, never trained on
    nor used to pick checkpoints) the next ones, so adding a test split leaves the validation groups where they were.
    """
    slot = int(hashlib.md5(f"{seed}:{rec_id}".encode()).hexdigest(), 16) % 1000
    if slot < round(val_fraction * 1000):
        return "val"
    return "test" if slot < round((val_fraction + test_fraction) * 1000) else "train"


def decode(path: Path, sample_rate: int, max_seconds: float, min_seconds: float = 0.15) -> np.ndarray | None:
    """Decode, downmix, resample, trim silence and peak-normalise one file (its first `max_seconds`); None when
    shorter than `min_seconds` once trimmed (blips and near-empty files)."""
    with sf.SoundFile(str(path)) as f:
        audio = f.read(frames=int(max_seconds * f.samplerate) + f.samplerate, dtype="float32", always_2d=True)
        sr = f.samplerate
    wav = audio.mean(axis=1)
    if sr != sample_rate:
        g = math.gcd(sr, sample_rate)
        wav = resample_poly(wav, sample_rate // g, sr // g).astype(np.float32)
    frame = max(1, int(_FRAME_SECONDS * sample_rate))
    n = len(wav) // frame
    if n == 0:
        return None
    rms_db = 10 * np.log10(np.mean(wav[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = rms_db > max(rms_db.max() + _SILENCE_REL_DB, _SILENCE_ABS_DB)
    if not loud.any():
        return None
    first, last = np.flatnonzero(loud)[[0, -1]]
    if (last + 1 - first) * frame < min_seconds * sample_rate:
        return None
    wav = wav[first * frame : (last + 1) * frame][: int(max_seconds * sample_rate)]
    peak = np.abs(wav).max()
    return wav * (_PEAK / peak) if peak > 0 else None


def _read_manifest(path: Path, origin: str) -> list[dict]:
    """Rows of a manifest with `path` made absolute, `origin` and `dataset` added (the first path component for the
    shared folder, the manifest's name for extra manifests)."""
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            rel = row["path"]
            row["dataset"] = Path(rel).parts[0] if origin == SHARED_ORIGIN else path.stem
            row["abs_path"] = str(path.parent / rel)
            row["origin"] = origin
            rows.append(row)
    return rows


def _limit(rows: list[dict], limit_per_source: int | None) -> list[dict]:
    """Keep an evenly spaced subset per dataset, so a tiny corpus still spans many labels."""
    if not limit_per_source:
        return rows
    by_dataset: dict[str, list[dict]] = {}
    for row in rows:
        by_dataset.setdefault(row["dataset"], []).append(row)
    out = []
    for group in by_dataset.values():
        step = max(1, len(group) // limit_per_source)
        out.extend(group[::step][:limit_per_source])
    return out


def build_corpus(
    shared_dir: str | Path,
    out_dir: str | Path,
    *,
    sample_rate: int = 16000,
    max_clip_seconds: float = 30.0,
    min_clip_seconds: float = 0.15,
    extra_manifests: Sequence[str | Path] = (),
    val_fraction: float = 0.12,
    test_fraction: float = 0.0,
    seed: int = 0,
    limit_per_source: int | None = None,
) -> Path:
    """Decode every manifest row into `out_dir/audio.npy` + `manifest.csv` + `corpus.json`; return `out_dir`.

    `min_clip_seconds` is 0.15 s rather than 0.25 s: ~10% of the spoken digits and many footsteps, punches and
    impacts are real, complete sounds of 0.15-0.25 s. Undecodable files and files with no usable label are skipped
    and counted, never fatal: one broken mp3 must not
    stop a multi-hour build. Extra manifests (path,label,source,license[,recording_id], paths relative to the
    manifest) are appended after the shared data, so adding them leaves shared clips and their splits unchanged.
    """
    start = time.time()
    shared_dir, out_dir = Path(shared_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = _limit(_read_manifest(shared_dir / "manifest.csv", SHARED_ORIGIN), limit_per_source)
    for extra in extra_manifests:
        rows += _limit(_read_manifest(Path(extra), "extra"), limit_per_source)

    clips: list[Clip] = []
    chunks: list[np.ndarray] = []
    offset = 0
    skipped = {"decode_error": 0, "no_label": 0, "silent": 0}
    for row in tqdm(rows, desc="decoding", unit="file"):
        label = clean_label(row["label"], row["source"])
        if label is None:
            skipped["no_label"] += 1
            continue
        try:
            wav = decode(Path(row["abs_path"]), sample_rate, max_clip_seconds, min_clip_seconds)
        except Exception as err:  # any decoder failure means "skip this file", never a crash
            log.warning("skipping %s: %s", row["path"], err)
            skipped["decode_error"] += 1
            continue
        if wav is None:
            skipped["silent"] += 1
            continue
        rec = row.get("recording_id") or recording_id(row["path"], row["dataset"])
        chunks.append(np.round(wav * 32767).astype(np.int16))
        clips.append(Clip(len(clips), row["path"], label, row["source"], rec, row["license"],
                          assign_split(rec, val_fraction, seed, test_fraction), offset, len(wav), row["origin"]))
        offset += len(wav)

    audio = np.lib.format.open_memmap(out_dir / "audio.npy", mode="w+", dtype=np.int16, shape=(offset,))
    for clip, chunk in zip(clips, chunks, strict=True):
        audio[clip.offset : clip.offset + clip.length] = chunk
    audio.flush()
    del audio
    _write_clips(out_dir / "manifest.csv", clips)
    meta = {
        "sample_rate": sample_rate,
        "files": len(clips),
        "hours": offset / sample_rate / 3600,
        "skipped": skipped,
        "counts": {split: sum(c.split == split for c in clips) for split in SPLITS},
        "labels": {split: len({c.label for c in clips if c.split == split}) for split in SPLITS},
        "params": {"max_clip_seconds": max_clip_seconds, "min_clip_seconds": min_clip_seconds,
                   "val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed,
                   "limit_per_source": limit_per_source,
                   "extra_manifests": [str(p) for p in extra_manifests]},
        "build_seconds": round(time.time() - start, 1),
    }
    (out_dir / "corpus.json").write_text(json.dumps(meta, indent=2))
    if any(skipped.values()):
        log.warning("skipped files: %s", skipped)
    return out_dir


def _write_clips(path: Path, clips: Iterable[Clip]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(Clip)])
        writer.writeheader()
        writer.writerows(asdict(c) for c in clips)


class Corpus:
    """Read side of a built corpus: clips from the manifest and their audio from the memory-mapped array."""

    def __init__(self, root: Path, sample_rate: int, clips: list[Clip], audio: np.ndarray):
        self.root = root
        self.sample_rate = sample_rate
        self.all_clips = clips
        self._audio = audio

    @classmethod
    def load(cls, out_dir: str | Path) -> "Corpus":
        """Open a corpus built by `build_corpus`; audio stays on disk (mmap) so workers share the page cache."""
        root = Path(out_dir)
        meta = json.loads((root / "corpus.json").read_text())
        ints = {"id", "offset", "length"}
        with (root / "manifest.csv").open(newline="") as f:
            clips = [Clip(**{k: int(v) if k in ints else v for k, v in row.items()}) for row in csv.DictReader(f)]
        return cls(root, int(meta["sample_rate"]), clips, np.load(root / "audio.npy", mmap_mode="r"))

    def clips(self, split: str, *, origin: str | None = None) -> list[Clip]:
        """Clips of one split ("train"/"val"), optionally only one origin ("shared" or "extra")."""
        return [c for c in self.all_clips if c.split == split and (origin is None or c.origin == origin)]

    def labels(self, split: str) -> list[str]:
        """Sorted distinct labels of a split."""
        return sorted({c.label for c in self.clips(split)})

    def audio(self, clip: Clip, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 samples in [-1, 1] of a clip, or of its [start, stop) sample range (cheap mmap slice)."""
        stop = clip.length if stop is None else min(stop, clip.length)
        raw = self._audio[clip.offset + start : clip.offset + stop]
        return raw.astype(np.float32) / 32768.0
