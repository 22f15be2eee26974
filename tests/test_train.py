"""A short real training run (debug model, tiny real corpus) lowers the loss, writes loadable checkpoints, resumes."""

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from conftest import REPO, SHARED_DATA
from lasso import Separator
from lasso.config import ModelConfig
from lasso.data.corpus import Corpus
from lasso.data.mixtures import MixtureSampler
from lasso.models.lasso_net import LassoNet
from lasso.models.text_encoder import load_text_encoder
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
    from lasso.data.corpus import build_corpus

    return build_corpus(SHARED_DATA, tmp_path_factory.mktemp("micro"), limit_per_source=4, val_fraction=0.0,
                        max_clip_seconds=4.0)


def test_training_lowers_loss_and_resumes(micro_corpus_dir, tiny_val_dir, tmp_path):
    cfg = _cfg(micro_corpus_dir, tiny_val_dir, steps=300)
    torch.manual_seed(cfg.seed)
    initial = LassoNet(ModelConfig.from_dict(dict(cfg.model)))  # the same init train() starts from
    before = _fixed_batch_loss(initial, micro_corpus_dir)

    best = train(cfg, tmp_path)
    state = torch.load(tmp_path / "state.pt", weights_only=False)
    assert state["step"] == 300
    trained = LassoNet(ModelConfig.from_dict(dict(cfg.model)))
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


def test_lr_schedule_warms_up_then_decays(tiny_corpus_dir, tiny_val_dir):
    o = _cfg(tiny_corpus_dir, tiny_val_dir, steps=1000).optim
    assert lr_at(0, o) < lr_at(9, o) == pytest.approx(o.lr)
    assert lr_at(500, o) < o.lr and lr_at(1000, o) == pytest.approx(o.min_lr)
