"""A short real training run (debug model, tiny real corpus) lowers the loss, writes loadable checkpoints, resumes."""

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from conftest import REPO, SHARED_DATA
from lasso import Separator
from lasso.models import LassoNet, build_model, load_text_encoder
from train.data.corpus import Corpus
from train.data.mixtures import MixtureSampler
from train.losses import thresholded_snr_loss
from train.train import lr_at, train

pytestmark = pytest.mark.heavy


def _cfg(corpus_dir, val_dir, steps: int):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose("train", overrides=[
            "model=debug", "logging=disabled", f"data.corpus_dir={corpus_dir}", f"data.val_dir={val_dir}",
            "data.segment_seconds=2.0", f"optim.max_steps={steps}", "optim.warmup_steps=10", "optim.lr=3e-3",
            "log_every=10", "eval_every=50", "ckpt_every=50", "workers=0", "val_items=12",
        ])


def _fixed_batch_loss(model: LassoNet, corpus_dir) -> float:
    sampler = MixtureSampler(Corpus.load(corpus_dir), "train", segment_seconds=2.0, absent_prob=0.0)
    rng = np.random.default_rng(123)
    items = [sampler.sample(rng) for _ in range(24)]
    mix = torch.from_numpy(np.stack([m.mixture for m in items]))
    target = torch.from_numpy(np.stack([m.target for m in items]))
    text = load_text_encoder("minilm").encode([m.prompt for m in items])
    with torch.no_grad():
        return thresholded_snr_loss(model.eval()(mix, text), target, mix).item()


@pytest.fixture(scope="module")
def micro_corpus_dir(tmp_path_factory):
    """A dozen real clips: few enough that 300 steps of the tiny model measurably learn them."""
    from train.data.corpus import build_corpus

    return build_corpus(SHARED_DATA, tmp_path_factory.mktemp("micro"), limit_per_source=4, val_fraction=0.0,
                        max_clip_seconds=4.0)


def test_training_lowers_loss_and_resumes(micro_corpus_dir, tiny_val_dir, tmp_path):
    cfg = _cfg(micro_corpus_dir, tiny_val_dir, steps=300)
    torch.manual_seed(cfg.seed)
    initial = build_model("separator", dict(cfg.model))  # the same init train() starts from
    before = _fixed_batch_loss(initial, micro_corpus_dir)

    best = train(cfg, tmp_path)
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    assert state["step"] == 300
    trained = build_model("separator", dict(cfg.model))
    trained.load_state_dict(state["model"])
    after = _fixed_batch_loss(trained, micro_corpus_dir)
    assert after < before - 1.0, f"loss did not drop: {before:.2f} -> {after:.2f} dB"

    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert any("val/sdri" in h for h in history) and any("train/loss" in h for h in history)
    sep = Separator.from_pretrained(best)  # the inference checkpoint loads through the public API
    assert sep.checkpoint_meta["step"] % 50 == 0

    train(_cfg(micro_corpus_dir, tiny_val_dir, steps=310), tmp_path)  # resume: continues, does not restart
    assert torch.load(tmp_path / "state.pt", weights_only=False)["step"] == 310
    steps = [h["step"] for h in map(json.loads, (tmp_path / "history.jsonl").read_text().splitlines())]
    assert steps == sorted(steps) and max(steps) == 310

    tuned = _cfg(micro_corpus_dir, tiny_val_dir, steps=1)  # fine-tuning starts from the weights, not from scratch
    tuned.init_from = str(tmp_path / "state.pt")
    tuned.optim.lr = 1e-9
    train(tuned, tmp_path / "tuned")
    weights = torch.load(tmp_path / "tuned" / "state.pt", weights_only=False)["model"]
    reference = torch.load(tmp_path / "state.pt", weights_only=False)["model"]
    assert all(torch.allclose(weights[k], reference[k], atol=1e-5) for k in reference)

    tuned.model.blocks += 1  # a checkpoint of another depth is refused with what to pass instead
    tuned.init_from = str(best)
    with pytest.raises(SystemExit, match=f"model.blocks={cfg.model.blocks}"):
        train(tuned, tmp_path / "deeper")


def test_lr_schedule_warms_up_then_decays(tiny_corpus_dir, tiny_val_dir):
    o = _cfg(tiny_corpus_dir, tiny_val_dir, steps=1000).optim
    assert lr_at(0, o) < lr_at(9, o) == pytest.approx(o.lr)
    assert lr_at(500, o) < o.lr and lr_at(1000, o) == pytest.approx(o.min_lr)


def test_judge_training_makes_candidates_and_a_loadable_judge(tiny_corpus_dir, tiny_val_dir, tmp_path):
    """`python -m train.judge` end to end on the debug separator: candidates with true SDRs, then a judge file
    that reranking loads. (Whether the judge picks well is a benchmark: benchmarks/inference_options.py.)"""
    from lasso.rerank import load_judge
    from train.judge import run

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("judge", overrides=[
            f"run_dir={tmp_path}", "checkpoint=debug", "scorer=debug", f"data.corpus_dir={tiny_corpus_dir}",
            f"data.val_dir={tiny_val_dir}", "data.segment_seconds=2.0", "train_shards=2", "shard_size=3", "k=4",
            "val_items=[0,6]", "steps=8", "eval_every=4", "batch_groups=4", "threads=1"])
    run(cfg)
    shard = np.load(tmp_path / "candidates" / "train_000.npz")
    assert shard["candidates"].shape[:2] == (3, 4) and shard["sdrs"].shape == (3, 4)
    assert np.isfinite(shard["sdrs"]).all() and len(set(shard["sdrs"][0].round(4))) > 1  # candidates differ
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["step"] for h in history] == [4, 8]
    assert all(h["plain"] <= h["oracle_k4"] + 1e-6 and h["picked_k4"] <= h["oracle_k4"] + 1e-6 for h in history)
    judge = load_judge(tmp_path / "judge.pt")
    wav = torch.randn(3, 32000) * 0.1
    scores = judge.score(wav, -wav * 0.5, load_text_encoder("minilm").encode(["dog"]))
    assert scores.shape == (3,) and torch.isfinite(scores).all()


def test_best_checkpoint_keeps_the_text_encoder_options(tiny_corpus_dir, tiny_val_dir, tmp_path, monkeypatch):
    """A model trained with encoder options (CLAP's local checkpoint paths) only loads with them: best.pt keeps them."""
    from lasso.models import text_encoder

    class TaggedMiniLM(text_encoder.MiniLMEncoder):  # an encoder that, like CLAP, needs an option to load
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag

    monkeypatch.setitem(text_encoder.ENCODERS, "minilm", TaggedMiniLM)
    monkeypatch.setattr(text_encoder, "_LOADED", {})
    cfg = _cfg(tiny_corpus_dir, tiny_val_dir, steps=2)
    cfg.eval_every, cfg.text_encoder_options = 2, {"tag": "local-copy"}
    best = train(cfg, tmp_path)
    assert torch.load(best, weights_only=True)["text_encoder"]["options"] == {"tag": "local-copy"}
    assert Separator.from_pretrained(best).text_encoder.tag == "local-copy"


def test_scorer_batches_hold_pairwise_unrelated_labels(tiny_corpus_dir):
    from itertools import combinations

    from train.data.labels import related
    from train.scorer import make_batch, scorer_sampler

    sampler = scorer_sampler(Corpus.load(tiny_corpus_dir), "train", segment_seconds=1.0)
    rng = np.random.default_rng(0)
    audio, labels = make_batch(sampler, 6, rng)
    assert audio.shape == (6, sampler.segment) and np.isfinite(audio).all() and (audio.std(1) > 0).all()
    assert not any(related(a, b) for a, b in combinations(labels, 2))
    with pytest.raises(ValueError, match="pairwise unrelated"):
        make_batch(sampler, len(sampler.labels) + 1, rng)


def test_average_of_snapshots_is_the_mean_of_their_weights(tmp_path):
    import torch

    from lasso import load_checkpoint, save_checkpoint
    from lasso.models import build_model
    from train.average import average

    paths = []
    for seed in (0, 1):
        model = build_model("separator", "debug")
        with torch.no_grad():  # two different snapshots
            for p in model.parameters():
                p.add_(torch.randn_like(p, generator=torch.Generator().manual_seed(seed)) * 0.1)
        paths.append(save_checkpoint(tmp_path / f"s{seed}.pt", model, half=False, meta={"step": seed}))
    out = average(paths, tmp_path / "avg.pt")
    (a, _), (b, _), (m, blob) = (load_checkpoint(p) for p in (*paths, out))
    name = next(k for k, v in m.state_dict().items() if v.is_floating_point() and v.numel() > 1)
    expected = (a.state_dict()[name] + b.state_dict()[name]) / 2
    torch.testing.assert_close(m.state_dict()[name], expected, atol=1e-3, rtol=1e-3)  # stored as float16
    assert not torch.equal(a.state_dict()[name], b.state_dict()[name]) and blob["meta"]["steps"] == [0, 1]


def test_grown_model_computes_what_it_grew_from_and_trains_its_new_blocks(tmp_path):
    from lasso import load_checkpoint, save_checkpoint
    from train.grow import grow

    model = build_model("separator", "debug")
    with torch.no_grad():  # a trained-looking model: no zero weights anywhere
        for p in model.parameters():
            p.add_(torch.randn_like(p, generator=torch.Generator().manual_seed(0)) * 0.1)
    src = save_checkpoint(tmp_path / "small.pt", model, half=False, meta={"step": 7})
    out = grow(src, model.cfg.blocks + 3, tmp_path / "grown.pt")
    (small, _), (grown, blob) = load_checkpoint(src), load_checkpoint(out)
    assert len(grown.blocks) == len(small.blocks) + 3 and blob["meta"]["step"] == 7
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1)) * 0.1
    text = torch.randn(2, small.cfg.text_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(grown(wav, text), small(wav, text))
    grown.train()
    (grown(wav, text) - wav * 0.5).pow(2).mean().backward()  # the zeroed projections get a gradient: they learn
    assert all(b.project.weight.grad.abs().sum() > 0 for b in grown.blocks[len(small.blocks):])
    with pytest.raises(SystemExit, match="must be more"):
        grow(src, model.cfg.blocks, tmp_path / "same.pt")
