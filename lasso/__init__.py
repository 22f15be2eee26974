"""AudioLasso: separate any sound from audio or video by describing it in plain language.

    from lasso import Separator
    sep = Separator.from_pretrained()
    res = sep.separate(audio, sample_rate, prompt="dog barking")
    res.target, res.residual, res.sample_rate
"""

from lasso.audio import AudioInfo, load_audio, probe, save_audio
from lasso.benchmark_set import KINDS, BenchmarkItem, load_real_world
from lasso.config import InferenceConfig, ModelConfig
from lasso.errors import (
    AudioError,
    LassoError,
    ModelLoadError,
    OptionError,
    PromptError,
    TooLongError,
    UnsupportedFormatError,
)
from lasso.files import FileOutputs, mux_video, separate_file
from lasso.separator import SeparationResult, Separator
from lasso.spans import Span
from lasso.valset import ValItem, load_validation_set

__all__ = [
    "AudioError",
    "AudioInfo",
    "FileOutputs",
    "InferenceConfig",
    "LassoError",
    "ModelConfig",
    "ModelLoadError",
    "OptionError",
    "PromptError",
    "SeparationResult",
    "Separator",
    "Span",
    "TooLongError",
    "UnsupportedFormatError",
    "ValItem",
    "BenchmarkItem",
    "KINDS",
    "load_audio",
    "load_validation_set",
    "load_real_world",
    "mux_video",
    "probe",
    "save_audio",
    "separate_file",
]
