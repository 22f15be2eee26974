"""The real-recording sources, the augmentations, and the real-world benchmark's mixing and prompt-swap measure.

The sources are tested on a folder laid out like the clones of ../shared/data/SOURCES.md, holding real audio from
the shared data under the repositories' own file names and metadata (speaker tables, per-file license lists).
"""

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from evaluate.real_world import (
    by_density,
    by_prompt,
    by_training_count,
    confusion,
    groups_markdown,
    headroom_markdown,
    markdown,
    paired_gain,
    prompts_markdown,
    rerank_headroom,
    score_item,
    solo_markdown,
    solo_rows,
    solo_summary,
    summarize,
    swap_distance_db,
)
from lasso import KINDS, BenchmarkItem, Separator, load_real_world
from train.clone_sources import clone_all
from train.data.augment import AugmentConfig, add_reverb, augment_source, band_limit, change_speed, lossy_codec
from train.data.corpus import Corpus, build_corpus, default_shared_dir
from train.data.labels import related
from train.data.real_world import ZERO_SHOT_KIND, build_real_world, build_zero_shot
from train.data.sources import Source, petz_label, write_source_manifests

SHARED = default_shared_dir()
pytestmark = pytest.mark.skipif(not (SHARED / "manifest.csv").exists(), reason="shared data folder not available")
SR = 16000


def _shared_files(prefix: str, n: int) -> list[Path]:
    with (SHARED / "manifest.csv").open(newline="") as f:
        return [SHARED / r["path"] for r in csv.DictReader(f) if r["path"].startswith(prefix)][:n]


@pytest.fixture(scope="module")
def clones(tmp_path_factory) -> Path:
    """Clones of four sources with real audio: speechocean762 (speakers with sex and age), petz (per-file licenses,
    one NonCommercial), donateacry (device UUIDs) and blanket (ambience loops, a synthetic noise to skip)."""
    root = tmp_path_factory.mktemp("clones")
    speech = _shared_files("fsdd/", 24)
    for i, src in enumerate(speech):
        spk = f"{i % 8 + 1:04d}"
        dest = root / "speechocean762" / "WAVE" / f"SPEAKER{spk}" / f"{spk}{i:05d}.WAV"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    (root / "speechocean762/train").mkdir()
    (root / "speechocean762/train/spk2gender").write_text("".join(f"{i:04d} {'mf'[i % 2]}\n" for i in range(1, 9)))
    (root / "speechocean762/train/spk2age").write_text("0001 30\n0002 41\n0003 9\n" +
                                                         "".join(f"{i:04d} 33\n" for i in range(4, 9)))
    foley = _shared_files("foley/", 40)
    petz = root / "petz/petz/sounds"
    petz.mkdir(parents=True)
    for name, src in zip(("petz_kitty_meow.ogg", "petz_dog_bark.ogg", "petz_cow_moo_2.ogg"), foley, strict=False):
        shutil.copy(src, petz / name)
    (petz / "LICENSE.MD").write_text(
        "file name: petz_kitty_meow.ogg\nAuthor: a\nLicense: This work is licensed under the Attribution License.\n"
        "----\nfile name: petz_dog_bark.ogg\nAuthor: b\nLicense: Free\n----\n"
        "filename: petz_cow_moo_2.ogg\nAuthor: c\nLicense: Attribution-NonCommercial 4.0 (CC BY-NC 4.0)\n")
    cry = root / "donateacry-corpus/donateacry_corpus_cleaned_and_updated_data/hungry"
    cry.mkdir(parents=True)
    for i, src in enumerate(foley[3:9]):
        uuid = f"{i % 3:08d}-0000-0000-0000-000000000000"
        shutil.copy(src, cry / f"{uuid}-14300{i}-1.7-m-04-hu.wav")
    sounds = root / "blanket/data/resources/sounds"
    sounds.mkdir(parents=True)
    for name, src in zip(("rain.ogg", "city.ogg", "wind.ogg", "white-noise.ogg"), foley[10:], strict=False):
        shutil.copy(src, sounds / name)
    return root


@pytest.fixture(scope="module")
def manifests(clones, tmp_path_factory) -> list[Path]:
    return write_source_manifests(clones, tmp_path_factory.mktemp("manifests"))


def _rows(manifests: list[Path], name: str) -> list[dict]:
    path = next(p for p in manifests if p.stem == name)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_sources_found_in_a_folder_of_clones(manifests):
    assert [p.stem for p in manifests] == ["speechocean762", "donateacry-corpus", "blanket", "petz"]
    for path in manifests:
        for row in _rows(manifests, path.stem):
            assert (path.parent / row["path"]).exists() and row["license"] and row["recording_id"]
            assert row["source"].split("@")[1]  # the commit the license was checked at


def test_speech_labels_say_who_speaks_and_group_by_speaker(manifests):
    rows = _rows(manifests, "speechocean762")
    by_speaker = {r["recording_id"]: r["label"] for r in rows}
    expected = {f"speechocean:{i:04d}": "woman speaking" if i % 2 else "man speaking" for i in range(1, 9)}
    assert by_speaker == expected | {"speechocean:0003": "child speaking"}  # 9 years old


def test_petz_keeps_only_commercial_friendly_rows(manifests):
    rows = _rows(manifests, "petz")
    assert [(r["label"], r["license"].split()[0]) for r in rows] == [("cat meowing", "CC")]
    assert petz_label("petz_puppy_moaning") == "dog" and petz_label("petz_calf_moo_2") == "cow mooing"


def test_other_sources_labels_and_groups(manifests):
    cry = _rows(manifests, "donateacry-corpus")
    assert {r["label"] for r in cry} == {"baby crying"} and len({r["recording_id"] for r in cry}) == 3
    assert {r["label"] for r in _rows(manifests, "blanket")} == {"rain", "city traffic", "wind blowing"}


@pytest.fixture(scope="module")
def corpus(manifests, tmp_path_factory) -> Corpus:
    out = tmp_path_factory.mktemp("corpus_sources")
    return Corpus.load(build_corpus(SHARED, out, extra_manifests=manifests, limit_per_source=120, val_fraction=0.2,
                                    test_fraction=0.3, max_clip_seconds=8.0))


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_clone_sources_checks_out_the_listed_commit_and_reports_failures(tmp_path, capsys):
    """`python -m train.clone_sources` puts each clone at the commit whose license was checked, not at the branch's
    newest; a rerun leaves it alone, and a repository that cannot be cloned is reported without stopping the rest."""
    remote = tmp_path / "remote" / "owner" / "sounds"
    remote.mkdir(parents=True)
    _git("init", "-q", cwd=remote)
    (remote / "LICENSE").write_text("CC0")
    _git("add", ".", cwd=remote)
    _git("commit", "-qm", "checked", cwd=remote)
    checked = _git("rev-parse", "HEAD", cwd=remote)
    (remote / "LICENSE").write_text("NonCommercial")
    _git("commit", "-qam", "relicensed", cwd=remote)
    no_rows = lambda root: iter(())  # noqa: E731
    sources = (Source("sounds", "owner/sounds", checked[:12], "CC0 (LICENSE)", no_rows),
               Source("gone", "owner/gone", "0123456789ab", "CC0 (LICENSE)", no_rows))
    dest = tmp_path / "clones"

    assert clone_all(dest, sources, base_url=str(tmp_path / "remote")) == ["gone"]
    assert (dest / "sounds" / "LICENSE").read_text() == "CC0"
    assert not (dest / "gone").exists()
    out = capsys.readouterr()
    assert "owner/gone failed" in out.err and "sounds: at" in out.out

    assert clone_all(dest, sources[:1], base_url=str(tmp_path / "remote")) == []
    assert "already at" in capsys.readouterr().out


def test_three_splits_share_no_recording(corpus):
    groups = {split: {c.recording_id for c in corpus.clips(split)} for split in ("train", "val", "test")}
    assert all(groups.values())
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    speakers = {c.recording_id for c in corpus.all_clips if c.recording_id.startswith("speechocean:")}
    assert speakers and all(sum(s in groups[k] for k in groups) == 1 for s in speakers)


# --- augmentations ------------------------------------------------------------------------------------------------

def _burst(seconds: float = 2.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR), np.float32)
    x[: SR // 4] = np.random.default_rng(0).standard_normal(SR // 4).astype(np.float32) * 0.3
    return x


def test_reverb_adds_a_decaying_tail():
    dry = _burst()
    wet = add_reverb(dry, np.random.default_rng(1), SR, AugmentConfig(rt60=(0.8, 0.8), wet_db=(0.0, 0.0)))
    tail = wet[SR // 4 + SR // 50:]
    assert wet.shape == dry.shape and np.sum(tail ** 2) > 1e-3 * np.sum(dry ** 2)
    early, late = np.sum(tail[: SR // 4] ** 2), np.sum(tail[SR // 2: 3 * SR // 4] ** 2)
    assert late < early / 10  # it decays (0.8 s RT60: about -15 dB over 0.25 s)


def test_band_limit_removes_highs():
    x = np.random.default_rng(2).standard_normal(SR).astype(np.float32)
    y = band_limit(x, np.random.default_rng(3), SR, AugmentConfig(bandlimit_hz=(3000.0, 3000.0)))
    spec_x, spec_y = np.abs(np.fft.rfft(x)), np.abs(np.fft.rfft(y))
    hi = slice(int(5000 / SR * len(x)), None)
    assert np.sum(spec_y[hi] ** 2) < 1e-3 * np.sum(spec_x[hi] ** 2)


def _peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x))) * SR / len(x))


def test_speed_change_moves_pitch_and_keeps_length():
    tone = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR).astype(np.float32)
    peaks = set()
    for seed in range(12):
        y = change_speed(tone, np.random.default_rng(seed), AugmentConfig(speed=0.06))
        assert y.shape == tone.shape and y.dtype == np.float32
        peaks.add(round(_peak_hz(y[: SR // 2])))
    assert len(peaks) >= 3 and all(940 <= p <= 1060 for p in peaks)  # a few steps within +-6 %


def test_codec_drops_what_is_far_below_the_frame_and_keeps_the_rest():
    rng = np.random.default_rng(3)
    fade = np.minimum(1.0, np.minimum(np.arange(SR), np.arange(SR)[::-1]) / (0.05 * SR))  # no onset click
    tone = (fade * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)).astype(np.float32)
    floor = (0.001 * rng.standard_normal(SR)).astype(np.float32)  # -60 dB under the tone
    y = lossy_codec(tone + floor, rng, AugmentConfig(codec_floor_db=(30.0, 30.0)))
    assert y.shape == tone.shape

    def highs(x: np.ndarray) -> float:  # energy well away from the tone: the noise floor
        return float(np.sum(np.abs(np.fft.rfft(x)[2000:]) ** 2))

    assert highs(y) < 0.05 * highs(floor)  # the floor is dropped
    assert abs(_db(y, tone)) < 1.0 and abs(_peak_hz(y) - 440) < 2  # the tone survives, quantised


def test_augment_keeps_shape_silence_and_can_be_off():
    x = _burst()
    rng = np.random.default_rng(4)
    on = AugmentConfig(reverb_prob=1, eq_prob=1, bandlimit_prob=1, ride_prob=1, speed_prob=1, codec_prob=1)
    assert augment_source(np.zeros_like(x), rng, SR, on).any() == False  # noqa: E712
    y = augment_source(x, rng, SR, on)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all() and not np.allclose(x, y)
    assert augment_source(x, rng, SR, AugmentConfig(enabled=False)) is x


# --- the real-world benchmark -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_dir(corpus, tmp_path_factory) -> Path:
    return build_real_world(corpus, tmp_path_factory.mktemp("real_world"), n_env=6, n_speech=4, n_music=0,
                            seconds=2.0, seed=0)


@pytest.fixture(scope="module")
def bench(bench_dir):
    return load_real_world(bench_dir)


def _db(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum(b.astype(np.float64) ** 2))


def test_benchmark_mixing(bench, corpus):
    test_labels = {c.label for c in corpus.clips("test")}
    known = {c.label for c in corpus.clips("train")}  # class names training knows; the recordings are new
    assert [it.kind for it in bench] == ["env_pairs"] * 6 + ["speech"] * 4
    for it in bench:
        np.testing.assert_allclose(it.a + it.b, it.mixture, atol=1e-6)
        assert it.mixture.shape == (2 * SR,) and np.abs(it.mixture).max() <= 0.9 + 1e-6
        assert abs(_db(it.a, it.b) - it.snr_db) < 0.01
        assert {it.prompt_a, it.prompt_b} <= test_labels & known
        assert {it.recording_a, it.recording_b} <= {c.recording_id for c in corpus.clips("test")}  # for intervals
        if it.kind == "env_pairs":
            assert it.snr_db == 0.0 and not related(it.prompt_a, it.prompt_b)
        else:
            assert -5 <= it.snr_db <= 5 and it.prompt_a.endswith("speaking")


def test_judge_learns_from_benchmark_style_pairs_of_val_recordings(corpus, tmp_path):
    """`train.judge candidates_from=recordings`: the benchmark's protocol on val-split recordings only, each source of
    a pair a candidate group under its own name, so the judge never sees a recording the benchmark scores."""
    from hydra import compose, initialize_config_dir

    from train.data.validation import write_validation_set
    from train.judge import run

    val_dir = write_validation_set(corpus, tmp_path / "val", n=6, segment_seconds=2.0)
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "configs"), version_base="1.3"):
        cfg = compose("judge", overrides=[
            f"run_dir={tmp_path / 'judge'}", "checkpoint=debug", "scorer=debug", f"data.corpus_dir={corpus.root}",
            f"data.val_dir={val_dir}", "candidates_from=recordings",
            "recording_kinds=[1.0,0.0,0.0]", "train_shards=2", "shard_size=4", "k=2",
            "val_items=[0,6]", "steps=8", "eval_every=4", "batch_groups=2", "threads=1"])
    run(cfg)
    items = load_real_world(tmp_path / "judge" / "candidates" / "recordings")
    val_labels = {c.label for c in corpus.clips("val")}
    assert len(items) == 4 and all({it.prompt_a, it.prompt_b} <= val_labels for it in items)
    shards = [np.load(tmp_path / "judge" / "candidates" / f"train_{i:03d}.npz") for i in range(2)]
    prompts = sorted(p for sh in shards for p in sh["prompts"])
    assert prompts == sorted(p for it in items for p in (it.prompt_a, it.prompt_b))  # each source asked for once
    assert all(sh["sdrs"].shape == (4, 2) and np.isfinite(sh["sdrs"]).all() for sh in shards)
    val = np.load(tmp_path / "judge" / "candidates" / "val.npz")  # the judge is picked on other recording pairs
    picked_on = load_real_world(tmp_path / "judge" / "candidates" / "recordings-val")
    assert sorted(val["prompts"]) == sorted(p for it in picked_on for p in (it.prompt_a, it.prompt_b))
    assert (tmp_path / "judge" / "judge.pt").exists()


def test_dev_set_draws_the_benchmark_protocol_from_val_recordings(corpus, tmp_path):
    """`benchmarks/real_world.py --dev` scores pairs of val-split recordings, so snapshots, means and soups are chosen
    on recordings the benchmark never scores; the benchmark itself stays drawn from the test split."""
    import importlib

    ensure_set = importlib.import_module("benchmarks.real_world").ensure_set
    sizes = {"n_env": 4, "n_speech": 0, "n_music": 0, "seconds": 2.0}
    dev = load_real_world(ensure_set(tmp_path / "dev", corpus.root, dev=1, **sizes))
    bench = load_real_world(ensure_set(tmp_path / "bench", corpus.root, **sizes))
    val_labels, test_labels = ({c.label for c in corpus.clips(split)} for split in ("val", "test"))
    assert len(dev) == len(bench) == 4
    assert all({it.prompt_a, it.prompt_b} <= val_labels for it in dev)
    assert all({it.prompt_a, it.prompt_b} <= test_labels for it in bench)
    assert not any(np.array_equal(d.mixture, b.mixture) for d in dev for b in bench)
    (tmp_path / "dev" / "env_pairs_000_mix.wav").unlink()  # built once: an existing set is read, not drawn again
    assert ensure_set(tmp_path / "dev", corpus.root, dev=1, **sizes) == tmp_path / "dev"
    assert not (tmp_path / "dev" / "env_pairs_000_mix.wav").exists()


def test_a_larger_dev_set_scales_every_kind_of_the_benchmark(corpus, tmp_path, monkeypatch):
    """`--dev 3` draws three times the benchmark's items per kind, to resolve gains that 320 items cannot."""
    import importlib

    module = importlib.import_module("benchmarks.real_world")
    for kind, count in {"n_env": 2, "n_speech": 0, "n_music": 0}.items():  # the fixture's val split: everyday only
        monkeypatch.setitem(module.BENCHMARK_SIZES, kind, count)
    items = load_real_world(module.ensure_set(tmp_path / "dev3", corpus.root, dev=3, seconds=2.0))
    assert Counter(it.kind for it in items) == {"env_pairs": 6}
    val_labels = {c.label for c in corpus.clips("val")}
    assert all({it.prompt_a, it.prompt_b} <= val_labels for it in items)


def test_zero_shot_pairs_ask_for_names_training_never_saw(corpus, tmp_path):
    items = load_real_world(build_zero_shot(corpus, tmp_path / "zs", n=4, seconds=2.0))
    known = {c.label for c in corpus.clips("train")}
    test_labels = {c.label for c in corpus.clips("test")}
    assert [it.kind for it in items] == [ZERO_SHOT_KIND] * 4
    for it in items:
        assert it.prompt_a in test_labels - known and it.prompt_b in known
        np.testing.assert_allclose(it.a + it.b, it.mixture, atol=1e-6)
        assert abs(_db(it.a, it.b)) < 0.01
    rows = [{"kind": it.kind, "sdri_a": 1.0, "sdri_b": 2.0, "irm_sdri_a": 9.0, "irm_sdri_b": 9.0, "mix_sdr_a": 0.0,
             "mix_sdr_b": 0.0, "swap_db": -3.0} for it in items]
    assert list(summarize(rows)) == [ZERO_SHOT_KIND, "all"]  # a diagnostic kind is summarised on its own


def test_swap_distance():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(SR), rng.standard_normal(SR)
    assert abs(swap_distance_db(a, b, a + b)) < 0.3  # the two sources: their difference is as loud as the mixture
    assert swap_distance_db(a, a * 1.001, a + b) < -50  # the same answer twice


def test_scoring_references(bench):
    sep = Separator.from_pretrained("debug", device="cpu")
    rows = [score_item(sep, it) for it in bench[:3]]
    for row in rows:
        assert row["irm_sdri_a"] > 3 and row["irm_sdri_b"] > 3  # the oracle mask separates them
        assert abs(row["mix_sdr_a"]) < 0.01  # 0 dB pairs: the mixture's SDR is 0
        assert np.isfinite([row["sdri_a"], row["sdri_b"], row["swap_db"]]).all()
        assert 0 < row["active_a"] <= 1 and 0 < row["active_b"] <= 1
        for side in ("a", "b"):  # answer + residual = mixture: they cannot both be 6 dB quieter than it
            assert max(row[f"answer_db_{side}"], row[f"rest_db_{side}"]) > -6.03
    summary = summarize(rows)
    assert set(summary) == {"env_pairs", "all"} and summary["all"]["items"] == 3
    groups = by_density(rows)["env_pairs"]
    assert sum(g["sources"] for g in groups.values()) == 6
    assert set(groups) <= {f"{a} over {b}" for a in ("one-shot", "continuous") for b in ("one-shot", "continuous")}
    assert set(KINDS) >= set(summary) - {"all"}


def test_evaluate_cli_scores_the_benchmark(bench_dir, tmp_path):
    """The Hydra route gives what the benchmark script gives: the table, the plots and, with solo=true, each source
    alone under every name of its kind (the two items' names) with its confusion matrix."""
    out = tmp_path / "eval"
    proc = subprocess.run([sys.executable, "-m", "evaluate", "set=real_world", "checkpoint=debug", "limit=2",
                           "solo=true", f"real_world_dir={bench_dir}", f"out_dir={out}",
                           f"hydra.run.dir={tmp_path / 'hydra'}", "progress=false", "device=cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| debug | env_pairs | 2 |" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["all"]["items"] == 2
    names = {p for it in load_real_world(bench_dir)[:2] for p in (it.prompt_a, it.prompt_b)}
    assert {r["asked"] for r in results["solo"]} == names
    assert len(results["solo"]) == 4 * len(names)  # 4 sources, each asked for by every name of the two items
    report = (out / "report.md").read_text()
    assert "| debug | env_pairs | " in report.split("## One-shot and continuous targets")[1]
    assert "| debug | env_pairs | 4 |" in report.split("## Each source alone")[1]
    for png in ("sdri_per_kind.png", "sdri_per_prompt_env_pairs.png", "solo_confusion_0_env_pairs.png"):
        assert (out / png).stat().st_size > 5000 and f"]({png})" in report


def test_benchmark_scores_only_the_labels_asked_for(bench, bench_dir, corpus, tmp_path):
    """After a data.holdout_labels run, `--labels` scores just the items naming a held-out sound (or a related one);
    a label no item names stops with a message instead of printing an empty table."""
    label = bench[0].prompt_a
    expected = [it.id for it in bench if related(it.prompt_a, label) or related(it.prompt_b, label)]
    script = [sys.executable, "benchmarks/real_world.py", "--no-baseline", "--checkpoint", "debug",
              "--set-dir", str(bench_dir), "--corpus-dir", str(corpus.root), "--threads", "1"]
    proc = subprocess.run([*script, "--labels", label, "--json", str(tmp_path / "rw.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "rw.json").read_text())["rows"]["debug"]
    assert [r["id"] for r in rows] == expected and len(expected) < len(bench)
    assert "SDRi by how many training clips carry the prompted label" in proc.stdout
    proc = subprocess.run([*script, "--labels", "zzz unheard of"], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "names ['zzz unheard of']" in proc.stderr


def test_answers_that_are_silence_the_whole_mixture_or_the_same_sound_are_counted():
    rows = [{"id": str(i), "kind": "env_pairs", "sdri_a": 0.0, "sdri_b": 0.0, "irm_sdri_a": 9.0, "irm_sdri_b": 9.0,
             "mix_sdr_a": 0.0, "mix_sdr_b": 0.0, "swap_db": swap, "answer_db_a": a, "rest_db_a": -3.0,
             "answer_db_b": -3.0, "rest_db_b": r}
            for i, (a, r, swap) in enumerate([(-45.0, -3.0, -3.0), (-3.0, -25.0, -30.0), (-3.0, -3.0, -1.0)])]
    summary = summarize(rows)["env_pairs"]
    assert summary["silent"] == summary["whole"] == 1 / 6  # one answer of six each
    assert summary["same"] == 1 / 3  # the second item: both answers audible, 30 dB apart from the mixture's energy
    rows[0]["swap_db"] = -30.0  # one answer silent: a judged-absent answer, not the same sound twice
    assert summarize(rows)["env_pairs"]["same"] == 1 / 3
    assert "| 17% | 17% | 33% |" in markdown({"m": summarize(rows)})
    old_run = [{k: v for k, v in r.items() if not k.startswith(("answer", "rest"))} for r in rows]
    assert "silent" not in summarize(old_run)["all"] and "| – | – | – |" in markdown({"m": summarize(old_run)})


def test_paired_gain_interval_excludes_zero_only_for_a_real_gain():
    rng = np.random.default_rng(0)
    base = [{"id": f"i{i}", "kind": "env_pairs" if i < 60 else "speech", "sdri_a": float(x), "sdri_b": float(y)}
            for i, (x, y) in enumerate(rng.normal(6, 4, size=(80, 2)))]
    better = [{**r, "sdri_a": r["sdri_a"] + 1.0, "sdri_b": r["sdri_b"] + 0.5} for r in base]
    noisy = [{**r, "sdri_a": r["sdri_a"] + rng.normal(0, 2)} for r in base]
    g = paired_gain(base, better)
    assert g["env_pairs"]["items"] == 60 and g["all"]["items"] == 80
    assert g["all"]["gain"] == pytest.approx(0.75) and g["all"]["low"] == pytest.approx(0.75)
    n = paired_gain(base, noisy)["all"]
    assert n["low"] < 0 < n["high"] and n["high"] - n["low"] < 1.0
    assert paired_gain(base, better[:10])["all"]["items"] == 10  # only the items both scored
    # one fragile item's collapse drags the mean below 0 while most items gained: the median and share say so
    one_collapse = [{**r, "sdri_a": r["sdri_a"] + (-80.0 if i == 0 else 0.4)} for i, r in enumerate(base)]
    c = paired_gain(base, one_collapse)["all"]
    assert c["gain"] < 0 < c["median"] and c["better"] == pytest.approx(79 / 80)
    assert g["all"]["median"] == pytest.approx(0.75) and n["better"] < 1


def test_paired_gain_resamples_recordings_not_items():
    """Ten items cut from one recording that a fine-tune stops finding are one fact, not ten: the interval over
    recordings is wider than the one over items, the mean the same."""
    rng = np.random.default_rng(1)
    base = [{"id": f"i{i}", "kind": "env_pairs", "sdri_a": float(x), "sdri_b": float(y),
             "recording_a": f"r{i // 10}" if i < 20 else f"a{i}", "recording_b": f"b{i}"}
            for i, (x, y) in enumerate(rng.normal(6, 4, size=(80, 2)))]
    other = [{**r, "sdri_a": r["sdri_a"] + (-6.0 if r["recording_a"] == "r0" else 3.0 if r["recording_a"] == "r1"
                                            else rng.normal(0, 0.5))} for r in base]
    by_recording = paired_gain(base, other)["all"]
    by_item = paired_gain([{k: v for k, v in r.items() if not k.startswith("recording")} for r in base],
                          [{k: v for k, v in r.items() if not k.startswith("recording")} for r in other])["all"]
    assert by_recording["recordings"] == 2 + 60 + 80 and by_item["recordings"] == 80  # rows without: their items
    assert by_recording["gain"] == pytest.approx(by_item["gain"])
    assert by_recording["high"] - by_recording["low"] > 1.5 * (by_item["high"] - by_item["low"])


def test_benchmark_compares_saved_runs_item_by_item(bench_dir, corpus, tmp_path):
    """`--rows` puts earlier runs' JSON beside each other without scoring again, with the paired gain table."""
    script = [sys.executable, "benchmarks/real_world.py", "--no-baseline", "--set-dir", str(bench_dir),
              "--corpus-dir", str(corpus.root), "--threads", "1"]
    proc = subprocess.run([*script, "--checkpoint", "debug", "--solo", "--json", str(tmp_path / "a.json"),
                           "--plots", str(tmp_path / "plots")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads((tmp_path / "a.json").read_text())
    solo = saved["solo"]["debug"]
    assert sum(r["role"] == "own" for r in solo) == sum(r["role"] == "partner" for r in solo) == 20  # 10 pairs
    assert "| debug | all | 20 |" in proc.stdout
    assert "| debug: speech source alone (sources) |" in proc.stdout  # 4 items: few enough names for a matrix
    assert (tmp_path / "plots" / "solo_confusion_0_speech.png").stat().st_size > 5000
    recordings = len({r[f"recording_{s}"] for r in saved["rows"]["debug"] for s in "ab"})
    assert recordings > 1
    # a run saved before rows carried their recordings gets them from the set, so its interval is over recordings
    rows = [{**{k: v for k, v in r.items() if not k.startswith("recording")}, "sdri_a": r["sdri_a"] + 2.0,
             "sdri_b": r["sdri_b"] + 2.0} for r in saved["rows"]["debug"]]
    (tmp_path / "b.json").write_text(json.dumps({"summaries": {}, "rows": {"later": rows}}))
    proc = subprocess.run([*script, "--rows", str(tmp_path / "a.json"), "--rows", str(tmp_path / "b.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Gain over debug" in proc.stdout
    assert "Each source alone" in proc.stdout  # a saved run's solo answers come back with its rows
    assert f"| later | all | {len(rows)} | {recordings} | +2.00 dB | +2.00 to +2.00 dB |" in proc.stdout
    (tmp_path / "d.json").write_text(json.dumps({"summaries": {}, "rows": {"debug": rows}}))  # same name again
    proc = subprocess.run([*script, "--rows", str(tmp_path / "a.json"), "--rows", str(tmp_path / "d.json")],
                          capture_output=True, text=True, timeout=300)
    assert f"| debug (d.json) | all | {len(rows)} | {recordings} | +2.00 dB | +2.00 to +2.00 dB |" in proc.stdout
    other_set = [{**r, "id": f"elsewhere_{r['id']}"} for r in rows]
    (tmp_path / "c.json").write_text(json.dumps({"summaries": {}, "rows": {"other set": other_set}}))
    proc = subprocess.run([*script, "--rows", str(tmp_path / "c.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "scored none of these" in proc.stderr


def test_reranked_rows_say_how_far_the_judge_is_from_the_best_candidate(bench):
    sep = Separator.from_pretrained("debug", device="cpu", reranker="debug")
    row = score_item(sep, bench[0], reranking_candidates=3)
    for side in ("a", "b"):
        assert len(row[f"candidate_sdri_{side}"]) == 3
        assert row[f"candidate_sdri_{side}"][row[f"chosen_{side}"]] == pytest.approx(row[f"sdri_{side}"], abs=1e-3)
    assert "candidate_sdri_a" not in score_item(sep, bench[0])  # k = 1: nothing to compare
    rows = [{"kind": "env_pairs", "candidate_sdri_a": [5.0, 7.0, 2.0], "chosen_a": 2,
             "candidate_sdri_b": [1.0, 0.0, 4.0], "chosen_b": 2},
            {"kind": "music", "candidate_sdri_a": [3.0, 3.0, 3.0], "chosen_a": 0}]
    head = rerank_headroom(rows)
    assert head["env_pairs"]["plain"] == 3.0 and head["env_pairs"]["judge"] == 3.0 and head["env_pairs"]["best"] == 5.5
    assert head["env_pairs"]["gain"] == [0.0, 0.5, 0.0] and head["env_pairs"]["chosen"] == [0.0, 0.0, 1.0]
    assert head["all"]["answers"] == 3 and head["all"]["chosen"] == pytest.approx([1 / 3, 0.0, 2 / 3])
    table = headroom_markdown({"v": rows}, ["your prompt", "softer", "sharper"])
    assert "| env_pairs | 2 | 3.00 | 3.00 | 5.50 |" in table and "| 3. sharper | +0.00 dB, 100% |" in table
    assert headroom_markdown({"v": [{"kind": "music"}]}, ["x"]) == ""  # not reranked: no table


def test_by_training_count_bins_each_source_by_its_labels_training_clips():
    rows = [{"kind": "env_pairs", "prompt_a": "dog", "prompt_b": "rain", "sdri_a": 9.0, "sdri_b": 1.0},
            {"kind": "env_pairs", "prompt_a": "owl", "prompt_b": "dog", "sdri_a": -3.0, "sdri_b": 7.0},
            {"kind": "speech", "prompt_a": "man speaking", "prompt_b": "rain", "sdri_a": 8.0, "sdri_b": 2.0}]
    counts = {"dog": 40, "rain": 2, "man speaking": 300}
    groups = by_training_count(rows, counts)
    assert list(groups["env_pairs"]) == ["unseen", "1-2 clips", "over 30 clips"]  # in bin order, not by name
    assert groups["env_pairs"]["over 30 clips"] == {"sdri": 8.0, "sources": 2}
    assert groups["env_pairs"]["unseen"] == {"sdri": -3.0, "sources": 1}
    assert groups["speech"]["1-2 clips"] == {"sdri": 2.0, "sources": 1}
    table = groups_markdown({"v": rows}, lambda rs: by_training_count(rs, counts))
    assert "| v | env_pairs | over 30 clips | 2 | 8.00 |" in table


def test_by_prompt_pools_both_sides_per_class():
    rows = [{"kind": "env_pairs", "prompt_a": "dog", "prompt_b": "rain", "sdri_a": 4.0, "sdri_b": 1.0,
             "irm_sdri_a": 20.0, "irm_sdri_b": 10.0},
            {"kind": "speech", "prompt_a": "a man speaking", "prompt_b": "dog", "sdri_a": 3.0, "sdri_b": 8.0,
             "irm_sdri_a": 15.0, "irm_sdri_b": 12.0}]
    assert by_prompt(rows)["dog"] == {"sdri": 6.0, "irm_sdri": 16.0, "sources": 2}
    assert set(by_prompt(rows, "env_pairs")) == {"dog", "rain"} and by_prompt(rows, "env_pairs")["dog"]["sources"] == 1
    table = prompts_markdown({"v": rows}, "env_pairs")
    assert "| v | dog | 1 | 4.00 | 20.00 |" in table and "| v | rain | 1 | 1.00 | 10.00 |" in table
    assert prompts_markdown({"v": rows}, "music") == ""  # no item of that kind: no table


def test_solo_sources_tell_a_model_that_follows_the_prompt_from_one_that_returns_any_sound():
    """Each source alone: a model that follows the prompt returns it whole under its own name and silence under any
    other; a prompt-blind one returns it whole under every name, which no mixture's SDRi shows as plainly."""
    rng = np.random.default_rng(3)
    sound = {name: rng.standard_normal(SR).astype(np.float32) for name in ("piano", "saxophone", "dog", "rain")}
    items = [BenchmarkItem("m0", "music", sound["piano"] + sound["saxophone"], sound["piano"], sound["saxophone"],
                           "piano", "saxophone", 0.0, SR),
             BenchmarkItem("e0", "env_pairs", sound["dog"] + sound["rain"], sound["dog"], sound["rain"], "dog", "rain",
                           0.0, SR),
             BenchmarkItem("e1", "env_pairs", sound["dog"], sound["dog"], np.zeros(SR, np.float32), "dog", "rain",
                           0.0, SR)]  # a silent source has nothing to keep: skipped

    class Follows:
        def separate(self, audio, sample_rate, prompt, **options):
            return SimpleNamespace(target=audio if np.array_equal(audio, sound[prompt]) else np.zeros_like(audio))

    class Blind:
        def separate(self, audio, sample_rate, prompt, **options):
            return SimpleNamespace(target=audio)

    names = {"music": ["piano", "saxophone", "electric guitar"]}
    sound["electric guitar"] = rng.standard_normal(SR).astype(np.float32)
    good, blind = solo_rows(Follows(), items, names), solo_rows(Blind(), items, names)
    assert len(good) == 2 * 3 + 3 * 2  # music sources by all three names, environmental ones by own and partner's
    assert {r["role"] for r in good if r["asked"] == "electric guitar"} == {"other"}
    g, b = solo_summary(good), solo_summary(blind)
    assert g["all"]["sources"] == 5 and g["music"]["sources"] == 2
    assert g["all"]["kept"] == pytest.approx(0.0, abs=1e-6) and g["all"]["leaked"] < -100 and g["all"]["apart"] == 1
    assert b["all"]["leaked"] == pytest.approx(0.0, abs=1e-6) and b["all"]["apart"] == 0
    matrix = confusion(good, "music")
    assert matrix["piano"]["piano"] == pytest.approx(0.0, abs=1e-6) and matrix["piano"]["saxophone"] < -100
    assert matrix["saxophone"]["electric guitar"] < -100 and set(matrix) == {"piano", "saxophone"}
    table = solo_markdown({"follows": good, "blind": blind}, ["music"])
    assert "| blind | music | 2 | +0.0 dB | +0.0 dB | 0% |" in table
    header = "| blind: music source alone (sources) | asked 'electric guitar' | asked 'piano' | asked 'saxophone' |"
    assert header in table
    assert "| piano (1) | +0.0 dB | +0.0 dB | +0.0 dB |" in table
