"""The one place that turns a config into a model (as audiocraft's `models/builders.py`).

Training builds a fresh model from its Hydra config (converted to a plain dict), loading rebuilds one from the
config saved in a checkpoint, and tests ask for the tiny random "debug" model of each kind: all three go through
`build_model`, so a model is built the same way whoever asks. Saved configs may come from an older or newer
version: keys this version does not know are ignored (`lasso.config`).
"""

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lasso.config import JudgeConfig, ModelConfig, ScorerConfig
from lasso.models.audio_text import AudioTextScorer
from lasso.models.judge import CandidateJudge
from lasso.models.lasso_net import LassoNet

Config = ModelConfig | ScorerConfig | JudgeConfig

# kind -> (config class, model class)
KINDS: dict[str, tuple[type, type[nn.Module]]] = {
    "separator": (ModelConfig, LassoNet),
    "scorer": (ScorerConfig, AudioTextScorer),
    "judge": (JudgeConfig, CandidateJudge),
}
# Tiny random models for tests and smoke runs: the same code paths, instant to build. `model=debug` in Hydra is
# this separator config too (train.train registers it), so it is written only here.
DEBUG_CONFIGS: dict[str, Config] = {
    "separator": ModelConfig(channels=32, hidden=64, blocks=2, dilation_cycle=2),
    "scorer": ScorerConfig(channels=32, layers=2),
    "judge": JudgeConfig(channels=16, layers=2),
}


def model_config(kind: str, config: Config | Mapping[str, Any] | str) -> Config:
    """The config dataclass of `kind` from a dataclass, a saved or Hydra dict, or "debug"."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(KINDS)}")
    config_cls = KINDS[kind][0]
    if isinstance(config, str):
        if config != "debug":
            raise ValueError(f"a model config is a dataclass, a dict or 'debug', got {config!r}")
        return DEBUG_CONFIGS[kind]
    if isinstance(config, config_cls):
        return config
    return config_cls.from_dict(dict(config))


def build_model(kind: str, config: Config | Mapping[str, Any] | str, *,
                scorer: AudioTextScorer | Config | Mapping[str, Any] | str | None = None) -> nn.Module:
    """A freshly initialised model of `kind` ("separator", "scorer" or "judge").

    The judge reads the features of an audio-text scorer, so it also needs `scorer`: a trained scorer model, or a
    scorer config to build an untrained one (whose weights a judge file then fills). "debug" models are seeded,
    so every test sees the same random weights.
    """
    cfg = model_config(kind, config)
    if config == "debug":
        torch.manual_seed(0)
    model_cls = KINDS[kind][1]
    if kind != "judge":
        return model_cls(cfg)
    if scorer is None:
        raise ValueError("the judge is built on an audio-text scorer: pass scorer=")
    if not isinstance(scorer, AudioTextScorer):
        scorer = build_model("scorer", scorer)
    return model_cls(cfg, scorer)
