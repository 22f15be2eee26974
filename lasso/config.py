"""Configuration dataclasses: the only inputs of the model and of inference.

`ModelConfig` and `ScorerConfig` are stored inside every checkpoint, so a checkpoint rebuilds its model without
Hydra; `InferenceConfig` holds a Separator's defaults (`Separator(defaults=...)`): the per-call options, whose own
defaults are the API spec's (lasso.options), and the longest input it accepts.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lasso.options import SeparationOptions


class _Serializable:
    """Checkpoints store configs as dicts; loading ignores keys this version does not know (older/newer files)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelConfig(_Serializable):
    sample_rate: int = 16000  # Hz; inputs at any other rate are resampled to this for mask estimation
    n_fft: int = 512  # STFT window (samples at sample_rate): 32 ms at 16 kHz
    hop: int = 128  # STFT hop (samples): 8 ms frames
    channels: int = 256  # width of the temporal network
    hidden: int = 512  # width inside each residual block
    blocks: int = 12  # residual temporal-conv blocks
    dilation_cycle: int = 6  # dilations 1, 2, 4, ... 2**(cycle-1), then repeat
    time_stride: int = 2  # frames pooled before the temporal network (speed), restored after
    text_encoder: str = "minilm"  # key of lasso.models.text_encoder.ENCODERS
    text_dim: int = 384  # embedding size of that encoder
    span_states: int = 3  # per-frame span input: 0 unknown, 1 target present, 2 target absent
    norm: str = "global"  # global: GroupNorm pooling over the whole input (v2); frame: per-frame, length-independent


@dataclass(frozen=True)
class ScorerConfig(_Serializable):
    """The audio-text scorer used for reranking (lasso.models.audio_text)."""

    sample_rate: int = 16000  # Hz
    n_fft: int = 1024  # samples
    hop: int = 320  # samples: 20 ms frames
    n_mels: int = 64
    channels: int = 192  # width of the conv encoder
    layers: int = 5  # conv blocks (every other one halves the frame rate, up to 4x)
    text_dim: int = 384  # embedding size of the text encoder
    text_encoder: str = "minilm"


@dataclass(frozen=True)
class JudgeConfig(_Serializable):
    """The candidate judge used for reranking (lasso.models.judge); it reads the audio-text scorer's features."""

    channels: int = 64  # width of its temporal conv stack
    layers: int = 4  # dilated conv blocks (dilations 1, 2, 4, 8)
    text_dim: int = 384  # embedding size of the text encoder
    text_encoder: str = "minilm"


@dataclass(frozen=True)
class InferenceConfig:
    """A Separator's defaults: options used where a call gives none, and the input length limit."""

    options: SeparationOptions = field(default_factory=SeparationOptions)  # the API's defaults unless overridden
    max_duration: float = 4 * 3600.0  # seconds; longer inputs are refused (TooLongError)
