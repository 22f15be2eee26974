"""AudioLasso: separate any sound from audio or video by describing it in plain language.

    from lasso import Separator
    sep = Separator.from_pretrained()
    res = sep.separate(audio, sample_rate, prompt="dog barking")
    res.target, res.residual, res.sample_rate

The other packages (train, evaluate, benchmarks, app, api) import only public names: those of this module, of
`lasso.models` (networks, their builder, text encoders), `lasso.metrics`, `lasso.valset` and `lasso.benchmark_set`
(evaluation), each
listed in its `__all__` (tests/test_layout.py checks it).

Names whose modules need torch (the model, checkpoints, reranking) load on first use, so `import lasso` does not
import torch: the API validates options and reads media headers with the library and stays free of it.
"""

import importlib
from typing import Any

from lasso.audio import AudioInfo, load_audio, probe, resample, save_audio
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
from lasso.options import LIMITS, PROMPT_MAX_CHARS, Limit, SeparationOptions, Span
from lasso.valset import ValItem, load_validation_set

_NEEDS_TORCH = {
    "lasso.checkpoint": ("load_checkpoint", "save_checkpoint"),
    "lasso.rerank": ("Variant", "load_judge", "load_scorer", "make_variants", "save_judge", "save_scorer"),
    "lasso.separator": ("SeparationResult", "Separator"),
    "lasso.spans": ("activity_to_spans",),
}
_MODULE_OF = {name: module for module, names in _NEEDS_TORCH.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'lasso' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "LIMITS",
    "PROMPT_MAX_CHARS",
    "Limit",
    "SeparationOptions",
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
    "Variant",
    "activity_to_spans",
    "load_audio",
    "load_checkpoint",
    "load_judge",
    "load_scorer",
    "load_validation_set",
    "load_real_world",
    "make_variants",
    "mux_video",
    "probe",
    "resample",
    "save_audio",
    "save_checkpoint",
    "save_judge",
    "save_scorer",
    "separate_file",
]
