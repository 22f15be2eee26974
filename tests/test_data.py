"""train.data on a tiny corpus decoded from real files of the shared data folder."""

import csv
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lasso import load_validation_set
from lasso.metrics import frame_activity
from tests.conftest import memory_corpus
from train.data.corpus import Clip, Corpus, build_corpus, default_shared_dir, recording_id
from train.data.debian import _extra_renders, drum_label, fetch_debian_sources, license_for
from train.data.labels import clean_label, related
from train.data.mixtures import (
    DEFAULT_FAMILY_WEIGHTS,
    MixtureDataset,
    MixtureSampler,
    label_family,
    source_family,
)
from train.data.prompts import aliases, make_prompt
from train.data.validation import write_validation_set

SHARED = default_shared_dir()
pytestmark = pytest.mark.skipif(not (SHARED / "manifest.csv").exists(), reason="shared data folder not available")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    out = tmp_path_factory.mktemp("corpus")
    return Corpus.load(build_corpus(SHARED, out, limit_per_source=30, val_fraction=0.3, max_clip_seconds=8.0))


@pytest.fixture(scope="module")
def sampler(corpus) -> MixtureSampler:
    return MixtureSampler(corpus, "train", segment_seconds=2.0, absent_prob=0.0)


@pytest.mark.parametrize(
    ("raw", "source", "expected"),
    [
        ("analogsynth2 highmid", "olpc_berklee", "analog synth"),
        ("DoorSlam", "olpc_berklee", "door slam"),
        ("cookie tin", "olpc_berklee", "cookie tin"),
        ("piano f#", "olpc_berklee", "piano"),
        ("femalevoices aa2 c#", "olpc_berklee", "female voices"),
        ("trashcan resonant hit", "olpc_berklee", "trash can resonant hit"),
        ('speech: a person saying "zero"', "fsdd", "person saying zero"),
        ("V8 car engine starting", "debian:torcs-data", "v8 car engine starting"),
        ("misc hit", "olpc_berklee", None),
        ("bongiovannitones", "olpc_berklee", None),
    ],
)
def test_clean_label(raw, source, expected):
    assert clean_label(raw, source) == expected


def test_related_labels():
    assert related("footsteps on snow", "footstep on gravel")
    assert related("person saying two", "man speaking")
    assert related("metal", "metal drop")
    assert not related("dog barking", "piano")
    assert not related("metal hit", "piano hit")


def test_recording_id_groups_takes():
    assert recording_id("berklee/DoorSlam1.mp3", "berklee") == recording_id("berklee/DoorSlam2.mp3", "berklee")
    assert recording_id("berklee/Analogsynth2_high.mp3", "berklee") == "berklee:analogsynth"
    a = recording_id("foley/0ad-data/audio/actor/fauna/animal/cattle_01.ogg", "foley")
    assert a == recording_id("foley/0ad-data/audio/actor/fauna/animal/cattle_07.ogg", "foley")
    assert recording_id("fsdd/3_george_12.wav", "fsdd") == "fsdd:george:3"


def test_corpus_layout_and_split(corpus):
    clips = corpus.all_clips
    assert clips and corpus.sample_rate == 16000
    assert {c.split for c in clips} == {"train", "val"}
    train = {c.recording_id for c in corpus.clips("train")}
    assert not train & {c.recording_id for c in corpus.clips("val")}
    ends = [c.offset + c.length for c in clips]
    assert [c.offset for c in clips[1:]] == ends[:-1]  # contiguous, no overlap
    wav = corpus.audio(clips[0])
    assert wav.dtype == np.float32 and len(wav) == clips[0].length and 0.5 < np.abs(wav).max() <= 1.0
    assert all(c.length >= 0.15 * corpus.sample_rate for c in clips)


def names_label(prompt: str, label: str, others: list[str] = ()) -> bool:
    """The prompt asks for the label or one of its aliases (synonyms, or a parent no other source shares)."""
    return any(name.lower() in prompt.lower() for name in (label, *aliases(label, others)))


def test_prompts_contain_label_or_alias():
    rng = np.random.default_rng(0)
    prompts = [make_prompt("dog barking", rng, context="background") for _ in range(300)]
    assert all(names_label(p, "dog barking") for p in prompts)
    assert 0.5 < np.mean(["dog barking" in p.lower() for p in prompts]) < 0.85
    assert len(set(prompts)) > 10
    assert {"dog", "a dog barking", "animal"} <= set(aliases("dog barking"))


def test_parent_category_only_when_it_names_the_target_alone():
    assert "animal" in aliases("cow mooing", ["rain"])
    assert "animal" not in aliases("cow mooing", ["dog barking"])
    rng = np.random.default_rng(0)
    assert not any(p.lower().endswith("animal") for p in (make_prompt("cow mooing", rng, others=["dog barking"])
                                                            for _ in range(300)))


def test_sampler_shapes_and_sum(sampler):
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = sampler.sample(rng)
        t = sampler.segment
        assert m.mixture.shape == m.target.shape == (t,) and m.mixture.dtype == np.float32
        assert m.activity.shape == (t // 128,) and m.activity.dtype == np.bool_
        assert m.sources.shape[0] in (2, 3)
        np.testing.assert_allclose(m.sources.sum(0), m.mixture, atol=1e-5)
        np.testing.assert_array_equal(m.sources[0], m.target)
        assert 0.1 - 1e-4 <= np.abs(m.mixture).max() <= 0.95 + 1e-4
        assert not any(related(m.label, other) for other in m.interferer_labels)
        assert names_label(m.prompt, m.label, m.interferer_labels)


def _db(a: float, b: float) -> float:
    return 10 * math.log10(a / b)


def _active_power(x: np.ndarray) -> float:
    frames = x[: len(x) // 128 * 128].reshape(-1, 128).astype(np.float64)
    return float(np.mean(frames[frame_activity(x, 128)] ** 2))


def test_sampler_realises_snr_on_active_frames(sampler):
    """Loudness is set on active energy: a short bark at 0 dB is as loud as the bed while it sounds."""
    rng = np.random.default_rng(1)
    for snr in (-10.0, -3.0, 0.0, 7.5):
        m = sampler.sample(rng, snr_db=snr)
        rest = m.mixture - m.target
        assert abs(_db(_active_power(m.target), _active_power(rest)) - snr) < 0.5


def test_sampler_mixes_both_loudness_references(corpus):
    """With active_snr_prob=0.5, some mixtures hit their SNR over the whole segment instead of on active frames."""
    both = MixtureSampler(corpus, "train", segment_seconds=2.0, num_sources=(2, 2), absent_prob=0.0,
                          active_snr_prob=0.5, seed=3)
    rng = np.random.default_rng(5)
    whole, active = 0, 0
    for _ in range(40):
        m = both.sample(rng, snr_db=0.0)
        rest = m.mixture - m.target
        whole += abs(_db(np.mean(m.target.astype(np.float64) ** 2), np.mean(rest.astype(np.float64) ** 2))) < 0.05
        active += abs(_db(_active_power(m.target), _active_power(rest))) < 0.5
    assert whole >= 8 and active >= 8 and whole + active >= 36


def test_family_weights_steer_the_draw(corpus):
    """A researcher re-weighting families (data.family_weights) gets only the families given weight, and a typo in
    a family name fails loudly instead of training on the defaults."""
    only_speech = {family: 0.0 for family in DEFAULT_FAMILY_WEIGHTS} | {"speech": 1.0}
    sampler = MixtureSampler(corpus, "train", segment_seconds=2.0, family_weights=only_speech)
    weighted = [lb for lb, p in zip(sampler.labels, sampler.label_p, strict=True) if p > 0]
    drawn = {source_family(sampler.by_label[lb][0].source) for lb in weighted}
    assert drawn == {"speech"}
    with pytest.raises(ValueError, match="unknown source families"):
        MixtureSampler(corpus, "train", family_weights={"foly": 0.5})
    with pytest.raises(ValueError, match="no weight"):
        MixtureSampler(corpus, "train", family_weights=dict.fromkeys(DEFAULT_FAMILY_WEIGHTS, 0.0))


def test_source_shares_count_clips_by_pack_not_labels_by_family():
    """"dog" is drawn under animals, but one of its two clips is a Berklee one-off: half of its draws play Berklee
    audio. source_shares says so, which the family weights alone do not."""
    pets, berklee, rng = "github:runsy/petz@48a3df7", "olpc_berklee", np.random.default_rng(0)
    rows = [("dog", pets), ("dog", berklee), ("cat meowing", pets), ("horse neighing", pets), ("bell", berklee),
            ("whistle", berklee)]
    corpus = memory_corpus(Path("."), 8000, [(label, source, rng.uniform(-0.5, 0.5, 8000), "train", "extra")
                                             for label, source in rows])
    sampler = MixtureSampler(corpus, "train", segment_seconds=0.5, family_weights={"animals": 1.0, "berklee": 1.0})
    assert sampler.family_of["dog"] == "animals"
    shares = sampler.source_shares()
    assert shares.keys() == {"animals", "berklee"}
    assert shares["animals"] == pytest.approx(2.5 / 6)  # three animal labels of 1/6 each, dog's half elsewhere
    assert shares["berklee"] == pytest.approx(0.5 + 0.5 / 6)


def test_label_family_is_what_the_sound_is_not_where_its_first_clip_came_from():
    """A label found in a catch-all pack (Berklee, foley) and in a source that says what it is goes to the latter,
    whichever clip comes first, so "piano" is drawn as music and not as one of Berklee's many one-off labels."""
    def clips(*sources: str) -> list[Clip]:
        return [Clip(i, f"{i}.wav", "piano", src, f"r{i}", "CC0-1.0", "train", 0, 1, "shared")
                for i, src in enumerate(sources)]

    assert label_family(clips("olpc_berklee", "salamander_grand_piano", "olpc_berklee")) == "music"
    assert label_family(clips("olpc_berklee", "github:AntumMT", "github:AntumMT")) == "foley"
    assert label_family(clips("olpc_berklee", "olpc_berklee", "github:AntumMT")) == "berklee"
    assert label_family(clips("petz@1", "github:AntumMT", "salamander_grand_piano", "petz@1")) == "animals"


def test_same_family_interferers(corpus):
    """data.same_family_prob puts a sound of the target's own family under it (a piano under a guitar), the hard
    negatives that make the prompt matter; a family with one label, or whose labels are all related (speech), falls
    back to any other. data.same_family_families limits them to targets of those families."""
    def share_same_family(prob: float, families: tuple[str, ...] = (), counted: set[str] | None = None) -> float:
        sampler = MixtureSampler(corpus, "train", segment_seconds=1.0, absent_prob=0.0, texture_prob=0.0,
                                 same_family_prob=prob, same_family_families=families, augment=None)
        rng, same, drawn = np.random.default_rng(8), 0, 0
        for _ in range(240):
            m = sampler.sample(rng)
            assert not any(related(m.label, other) for other in m.interferer_labels)
            family = sampler.family_of[m.label]
            if family != "speech" and len(sampler.family_labels[family]) > 1 and family in (counted or {family}):
                drawn += 1
                same += sampler.family_of[m.interferer_labels[0]] == family
        assert drawn >= 15
        return same / drawn

    always, never = share_same_family(1.0), share_same_family(0.0)
    assert always > 0.9 and never < 0.6
    sampler = MixtureSampler(corpus, "train", augment=None)
    hard = [f for f, labels in sampler.family_labels.items() if f != "speech" and len(labels) > 1]
    chosen, rest = hard[0], set(hard[1:])
    assert rest, "the fixture corpus needs two families with several labels"
    assert share_same_family(1.0, (chosen,), {chosen}) > 0.9
    assert share_same_family(1.0, (chosen,), rest) < 0.6
    with pytest.raises(ValueError, match="unknown families"):
        MixtureSampler(corpus, "train", same_family_prob=0.5, same_family_families=["musik"])


def test_absent_queries_from_a_present_family(corpus):
    """data.absent_family_prob asks for a sound of a present sound's family that is not there ("piano" while a
    saxophone plays), whose answer is silence; the label is never one that sounds."""
    def share_hard(prob: float) -> float:
        sampler = MixtureSampler(corpus, "train", segment_seconds=0.5, num_sources=(2, 2), absent_prob=1.0,
                                 texture_prob=0.0, absent_family_prob=prob, augment=None)
        rng, hard, drawn = np.random.default_rng(3), 0, 0
        for _ in range(150):
            m = sampler.sample(rng)
            assert m.absent and not m.target.any()
            assert not any(related(m.label, present) for present in m.interferer_labels)
            families = {sampler.family_of[lb] for lb in m.interferer_labels}
            if all(f != "speech" and len(sampler.family_labels[f]) > 1 for f in families):
                drawn += 1
                hard += sampler.family_of[m.label] in families
        assert drawn >= 20
        return hard / drawn

    always, never = share_hard(1.0), share_hard(0.0)
    assert always > 0.9 and never < 0.6


def test_holdout_labels_leave_the_split(corpus):
    """The zero-shot diagnostic (data.holdout_labels) never lets a held-out sound, or any label related to it, into
    training, as target or as interferer; a misspelt label fails instead of silently holding out nothing."""
    term = corpus.labels("train")[0]
    sampler = MixtureSampler(corpus, "train", segment_seconds=2.0, holdout_labels=[term])
    assert sampler.labels and not any(related(lb, term) for lb in sampler.labels)
    rng = np.random.default_rng(4)
    for _ in range(20):
        m = sampler.sample(rng)
        assert not any(related(lb, term) for lb in [m.label, *m.interferer_labels])
    with pytest.raises(ValueError, match="match no label"):
        MixtureSampler(corpus, "train", holdout_labels=["zzz unheard of"])


def test_absent_queries(sampler):
    rng = np.random.default_rng(2)
    m = sampler.sample(rng, absent=True)
    assert m.absent and math.isnan(m.snr_db)
    assert not m.target.any() and not m.activity.any()
    assert np.abs(m.mixture).max() > 0
    assert not any(related(m.label, other) for other in m.interferer_labels)


def test_activity_follows_target(sampler):
    rng = np.random.default_rng(3)
    for _ in range(10):
        m = sampler.sample(rng)
        frames = m.target[: len(m.activity) * 128].reshape(-1, 128)
        rms_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)
        assert m.activity[np.argmax(rms_db)]
        assert not m.activity[rms_db < -80].any()


def test_dataset_yields_tensors(sampler):
    import torch

    loader = torch.utils.data.DataLoader(MixtureDataset(sampler), batch_size=3, num_workers=0)
    batch = next(iter(loader))
    assert batch["mixture"].shape == (3, sampler.segment) and batch["activity"].dtype == torch.bool
    assert len(batch["prompt"]) == 3


def test_validation_set_deterministic(corpus, tmp_path):
    a = write_validation_set(corpus, tmp_path / "a", n=12, segment_seconds=1.0)
    b = write_validation_set(corpus, tmp_path / "b", n=12, segment_seconds=1.0)
    items_a, items_b = load_validation_set(a), load_validation_set(b)
    assert len(items_a) == 12
    assert all((a / f.name).read_bytes() == f.read_bytes() for f in b.iterdir() if f.name != "params.json")
    for x, y in zip(items_a, items_b, strict=True):
        np.testing.assert_array_equal(x.mixture, y.mixture)
        np.testing.assert_array_equal(x.target, y.target)
        assert x.prompt == x.label
    assert sum(i.snr_db == 0.0 for i in items_a) == 4 and sum(i.absent for i in items_a) == 1
    assert all(not i.target.any() for i in items_a if i.absent)
    mtime = (a / "index.csv").stat().st_mtime_ns
    write_validation_set(corpus, a, n=12, segment_seconds=1.0)  # same params: left as is
    assert (a / "index.csv").stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("name", "expected"),
    [("VariBreaks Hat 1 Op", "hi-hat"), ("Kick", "kick drum"), ("bd_808", "kick drum"), ("Snare Rock", "snare drum"),
     ("drum_cymbal_closed", "hi-hat"), ("Crash Jazz", "crash cymbal"), ("trimo-c3", None)],
)
def test_drum_label(name, expected):
    assert drum_label(name) == expected


def test_license_from_debian_copyright(tmp_path):
    doc = tmp_path / "usr/share/doc/pkg"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nLicense: GPL-2+\n\nFiles: doc/*\nLicense: GFDL-1.2+\n\n"
        "Files:\n drumkits/My?Kit.h2drumkit\nCopyright: someone\nLicense: CC0\n\nFiles: debian/*\nLicense: MIT\n"
    )
    assert license_for(tmp_path, "pkg", "usr/share/hydrogen/drumkits/My Kit/kick.wav") == "CC0 (Debian pkg)"
    assert license_for(tmp_path, "pkg", "usr/share/pkg/sounds/a.wav") == "GPL-2+ (Debian pkg)"


def test_extra_manifest_leaves_shared_clips_and_val_set(corpus, tmp_path):
    sr = 16000
    t = np.arange(sr) / sr
    for i in range(3):
        sf.write(tmp_path / f"tone{i}.wav", 0.5 * np.sin(2 * np.pi * (300 + 100 * i) * t), sr)
    extra = tmp_path / "tones.csv"
    extra.write_text("path,label,source,license,recording_id\n"
                     + "".join(f"tone{i}.wav,test tone,test,CC0,test:tone\n" for i in range(3)))
    with_extra = Corpus.load(build_corpus(SHARED, tmp_path / "c", limit_per_source=30, val_fraction=0.3,
                                          max_clip_seconds=8.0, extra_manifests=[extra]))
    assert [c for c in with_extra.all_clips if c.origin == "shared"] == corpus.all_clips
    assert [c.label for c in with_extra.all_clips if c.origin != "shared"] == ["test tone"] * 3
    a = write_validation_set(corpus, tmp_path / "va", n=6, segment_seconds=1.0)
    b = write_validation_set(with_extra, tmp_path / "vb", n=6, segment_seconds=1.0)
    assert all((a / f.name).read_bytes() == f.read_bytes() for f in b.iterdir())


def test_licenses_read_by_a_person_override_the_parser(tmp_path):
    assert license_for(tmp_path, "hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/x/Laugh.ogg") == \
        "GFDL-1.3 (Files: share/hedgewars/Data/Sounds/*) (Debian hedgewars-data, copyright file)"
    assert license_for(tmp_path, "fretsonfire-songs-muldjord", "a/b/guitar.ogg").startswith("CC BY-SA 3.0")


# Debian's small General MIDI font; scripts/test_deps.sh installs it with fluidsynth.
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def test_extra_renders_add_phrases_of_training_instruments_only(tmp_path):
    for name in ("fluid-soundfont-gm", "timgm6mb-soundfont"):  # both fonts stand in as the small one, unpacked
        root = tmp_path / "unpacked" / name
        (root / "usr/share/sounds/sf2").mkdir(parents=True)
        (root / "usr/share/sounds/sf2/font.sf2").symlink_to(TIMGM)
        (root / "usr/share/doc" / name).mkdir(parents=True)
        (root / "usr/share/doc" / name / "copyright").write_text("Files: *\nLicense: GPL-2\n")
    (tmp_path / "manifests").mkdir()
    in_train = {"gm:piano", "gm:drum kit"}.__contains__  # every other instrument is held out
    manifests = _extra_renders(tmp_path, 2, in_train, 16000, seed=1)
    rows = [(m, r) for m in manifests for r in csv.DictReader(m.open())]
    assert sorted(Counter(r["label"] for _, r in rows).items()) == [("drum kit", 4), ("piano", 4)]
    assert {r["recording_id"] for _, r in rows} == {"gm:piano", "gm:drum kit"}
    assert {r["license"] for _, r in rows} == {"GPL-2 (Debian fluid-soundfont-gm)", "GPL-2 (Debian timgm6mb-soundfont)"}
    for m, r in rows:
        audio, sr = sf.read(m.parent / r["path"])
        assert sr == 16000 and 3.0 < len(audio) / sr < 12.0 and np.abs(audio).max() > 0.01
    stamps = [m.stat().st_mtime_ns for m in manifests]
    assert _extra_renders(tmp_path, 2, in_train, 16000, seed=1) == manifests  # rendered once, then reused
    assert [m.stat().st_mtime_ns for m in manifests] == stamps


def test_extra_renders_need_to_know_the_training_split(tmp_path):
    with pytest.raises(ValueError, match="in_train"):
        fetch_debian_sources(tmp_path, extra_phrases=4)


def test_textures_are_beds_not_one_shots_of_an_ambience_label():
    """The texture interferer is a recording from an ambience source, even for a label whose clips are mostly foley
    one-shots ("fire crackling": 15 one-shots, one bed), so texture_prob keeps putting real beds under events."""
    sr, rng = 8000, np.random.default_rng(0)
    bed = "github:rafaelmardojai/blanket"
    rows = [("rain", bed, 3 * sr), ("city traffic", bed, 3 * sr)]
    rows += [(label, "github:AntumMT", sr // 10) for label in ("rain", "rain", "city traffic", "dog barking",
                                                                "door slam", "car horn", "glass breaking")]
    corpus = memory_corpus(Path("."), sr, [(label, source, rng.uniform(-0.5, 0.5, n), "train", "extra")
                                           for label, source, n in rows])
    sampler = MixtureSampler(corpus, "train", segment_seconds=1.0, num_sources=(2, 2), absent_prob=0.0,
                             texture_prob=1.0, augment=None)
    assert sampler.textures == ["city traffic", "rain"]
    for _ in range(40):
        m = sampler.sample(rng)
        assert m.interferer_labels[0] in sampler.textures
        # a bed may stop halfway (place()); a 0.1 s one-shot, even repeated, covers far less
        assert frame_activity(m.sources[1], 128).mean() > 0.45, "a one-shot was drawn as the bed"
