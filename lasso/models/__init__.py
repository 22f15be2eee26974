"""Neural parts: the separation network, the text encoders, and the audio-text scorer and judge of reranking.

Build models with `build_model` (from a config, a saved config dict, or "debug"); checkpoints store those configs.
"""

from lasso.models.audio_text import AudioTextScorer
from lasso.models.builders import DEBUG_CONFIGS, build_model, model_config
from lasso.models.judge import CandidateJudge
from lasso.models.lasso_net import LassoNet
from lasso.models.text_encoder import ENCODERS, TextEncoder, load_text_encoder
from lasso.spans import ABSENT, PRESENT, UNKNOWN  # the per-frame span states the network reads

__all__ = [
    "ABSENT",
    "PRESENT",
    "UNKNOWN",
    "DEBUG_CONFIGS",
    "ENCODERS",
    "AudioTextScorer",
    "CandidateJudge",
    "LassoNet",
    "TextEncoder",
    "build_model",
    "load_text_encoder",
    "model_config",
]
