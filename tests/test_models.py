"""lasso.models' builder and the checkpoint format: one way to make each model, and files that say what they are."""

import pytest
import torch
from hydra import compose, initialize_config_dir

from conftest import REPO
from lasso import ModelLoadError, Separator
from lasso.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from lasso.config import JudgeConfig, ModelConfig, ScorerConfig
from lasso.models import DEBUG_CONFIGS, AudioTextScorer, CandidateJudge, LassoNet, build_model, model_config
from lasso.rerank import load_judge, load_scorer, save_judge, save_scorer


@pytest.mark.parametrize(("kind", "cls"), [("separator", LassoNet), ("scorer", AudioTextScorer),
                                           ("judge", CandidateJudge)])
def test_debug_models_are_built_once_and_seeded(kind, cls):
    a = build_model(kind, "debug", scorer="debug")
    b = build_model(kind, "debug", scorer="debug")
    assert isinstance(a, cls) and a.cfg == DEBUG_CONFIGS[kind]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_saved_configs_rebuild_and_unknown_keys_are_ignored():
    saved = {**ModelConfig(channels=48, hidden=96, blocks=3).to_dict(), "from_a_newer_version": 1}
    assert build_model("separator", saved).cfg == ModelConfig(channels=48, hidden=96, blocks=3)
    judge = build_model("judge", JudgeConfig(channels=8, layers=1), scorer=ScorerConfig(channels=16, layers=1))
    assert judge.scorer.cfg.channels == 16 and not any(p.requires_grad for p in judge.scorer.parameters())
    with pytest.raises(ValueError, match="unknown model kind"):
        model_config("vocoder", {})
    with pytest.raises(ValueError, match="scorer="):
        build_model("judge", "debug")


def test_hydra_debug_model_is_the_library_debug_model():
    """`python -m train model=debug` trains exactly the model that `from_pretrained("debug")` builds."""
    import train.train  # noqa: F401  registers model=debug

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["model=debug"])
    assert model_config("separator", dict(cfg.model)) == load_checkpoint("debug")[0].cfg == DEBUG_CONFIGS["separator"]


def test_checkpoint_of_another_format_version_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build_model("separator", "debug"))
    blob = torch.load(path, weights_only=True)
    assert blob["version"] == FORMAT_VERSION
    torch.save({**blob, "version": FORMAT_VERSION + 1}, tmp_path / "future.pt")
    with pytest.raises(ModelLoadError, match="format version"):
        Separator.from_pretrained(tmp_path / "future.pt")
    torch.save({"model": blob["state_dict"], "step": 10}, tmp_path / "state.pt")  # a training state, not a model
    with pytest.raises(ModelLoadError, match="init_from"):
        load_checkpoint(tmp_path / "state.pt")


def test_scorer_and_judge_files_roundtrip(tmp_path):
    scorer = build_model("scorer", ScorerConfig(channels=16, layers=1))
    assert load_scorer(save_scorer(tmp_path / "s.pt", scorer)).cfg == scorer.cfg
    judge = build_model("judge", JudgeConfig(channels=8, layers=1), scorer=scorer)
    loaded = load_judge(save_judge(tmp_path / "j.pt", judge))
    assert loaded.cfg == judge.cfg and loaded.scorer.cfg == scorer.cfg
