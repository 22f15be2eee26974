"""The one way in: `Separator.from_pretrained().separate(audio, sample_rate, prompt, ...)`.

The CLI, the Gradio app, the API worker and the notebooks all call this, so every option behaves the same
everywhere. The mask is estimated at the model's rate (16 kHz, mono mix) and applied at the input's own rate to
every channel, so outputs keep the input's sample rate, channels and full bandwidth, and target + residual ==
input exactly.
"""

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lasso.audio import as_channels_first, resample
from lasso.checkpoint import load_checkpoint
from lasso.chunking import chunk_bounds, fade_weights
from lasso.config import ACCELERATION_PRESETS, InferenceConfig
from lasso.errors import OptionError, PromptError, TooLongError
from lasso.models.lasso_net import LassoNet
from lasso.models.text_encoder import load_text_encoder
from lasso.spans import Span, exclusion_gain, parse_spans, span_states

ProgressCallback = Callable[[dict[str, Any]], None]
MAX_PROMPT_CHARS = 500


@dataclass
class SeparationResult:
    target: np.ndarray  # same shape as the input audio
    residual: np.ndarray  # input - target
    sample_rate: int
    prompt: str
    spans: list[Span] = field(default_factory=list)  # the spans used (given or predicted)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # reranking candidates with their scores
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class Separator:
    def __init__(self, model: LassoNet, text_encoder, *, device: str = "cpu",
                 defaults: InferenceConfig | None = None, checkpoint_meta: dict | None = None) -> None:
        self.model = model.to(device).eval()
        self.text_encoder = text_encoder
        self.device = device
        self.defaults = defaults or InferenceConfig()
        self.checkpoint_meta = checkpoint_meta or {}

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str | None = None,
                        defaults: InferenceConfig | None = None) -> "Separator":
        """Load the shipped default model (path=None), a checkpoint file, or "debug" (a random tiny model)."""
        model, blob = load_checkpoint(path)
        enc = blob["text_encoder"]
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model, load_text_encoder(enc["name"], **enc.get("options", {})), device=device,
                   defaults=defaults, checkpoint_meta=blob.get("meta", {}))

    @property
    def sample_rate(self) -> int:
        """The model's internal rate; inputs at any rate are accepted."""
        return self.model.cfg.sample_rate

    def separate(self, audio: np.ndarray, sample_rate: int, prompt: str, *,
                 spans: Iterable[Span | Mapping] | None = None, predict_spans: bool | None = None,
                 reranking_candidates: int | None = None, acceleration: str | None = None,
                 max_chunk_duration: float | None = None, chunk_overlap: float | None = None,
                 progress: ProgressCallback | None = None) -> SeparationResult:
        """Separate what `prompt` describes from `audio` ([samples] or [channels, samples], any rate)."""
        t0 = time.perf_counter()
        d = self.defaults
        opts = dict(predict_spans=d.predict_spans if predict_spans is None else predict_spans,
                    candidates=d.reranking_candidates if reranking_candidates is None else reranking_candidates,
                    acceleration=acceleration or d.acceleration,
                    chunk=d.max_chunk_duration if max_chunk_duration is None else max_chunk_duration,
                    overlap=d.chunk_overlap if chunk_overlap is None else chunk_overlap)
        prompt = self._check_prompt(prompt)
        self._check_options(**opts)
        squeeze = np.asarray(audio).ndim == 1
        x = as_channels_first(audio)
        sample_rate = int(sample_rate)
        if sample_rate < 1000 or sample_rate > 384000:
            raise OptionError(f"sample_rate must be between 1000 and 384000 Hz, got {sample_rate}",
                              param="sample_rate")
        duration = x.shape[1] / sample_rate
        if duration > d.max_duration:
            raise TooLongError(f"the audio is {duration:.0f} s long; the limit is {d.max_duration:.0f} s")
        span_list = parse_spans(spans, duration)
        text = self.text_encoder.encode([prompt]).to(self.device)
        t_text = time.perf_counter()

        target = np.zeros_like(x)
        # the crossfade can be at most half a chunk, or three chunks would overlap and the weights not sum to one
        chunk = max(1, int(opts["chunk"] * sample_rate))
        overlap = min(int(opts["overlap"] * sample_rate), chunk // 2)
        bounds = list(chunk_bounds(x.shape[1], chunk, overlap))
        for i, (start, end) in enumerate(bounds):
            est = self._separate_chunk(x[:, start:end], sample_rate, text, span_list, start / sample_rate)
            fade_in = overlap if i > 0 else 0
            fade_out = overlap if i < len(bounds) - 1 else 0
            target[:, start:end] += est * fade_weights(end - start, fade_in, fade_out)
            if progress:
                progress({"stage": "separate", "chunk": i + 1, "chunks": len(bounds), "fraction": end / x.shape[1]})
        gain = exclusion_gain(span_list, x.shape[1], sample_rate)
        if gain is not None:
            target *= gain
        residual = x - target
        t_end = time.perf_counter()
        if squeeze:
            target, residual = target[0], residual[0]
        return SeparationResult(target=target, residual=residual, sample_rate=sample_rate, prompt=prompt,
                                spans=span_list, timings={"text": t_text - t0, "separate": t_end - t_text,
                                                          "total": t_end - t0})

    @torch.inference_mode()
    def _separate_chunk(self, x: np.ndarray, sr: int, text: torch.Tensor, spans: list[Span],
                        offset: float) -> np.ndarray:
        """x [channels, samples] at sr -> target [channels, samples] at sr."""
        m = self.model
        mono = resample(torch.from_numpy(x.mean(axis=0)), sr, m.cfg.sample_rate).to(self.device)[None]
        spec = m.stft(mono)
        states = span_states(spans, spec.shape[-1], m.cfg.hop / m.cfg.sample_rate, offset)[None].to(self.device)
        mask = m.estimate_mask(spec.abs(), text, states)[0]  # [bins, frames] at the model's rate
        return self._apply_mask_native(torch.from_numpy(x).to(self.device), sr, mask).cpu().numpy()

    def _apply_mask_native(self, x: torch.Tensor, sr: int, mask: torch.Tensor) -> torch.Tensor:
        """Apply a model-rate mask to the input's own STFT (same window length in seconds), per channel.

        Frequencies above the model's Nyquist get the mean mask of its top 1 kHz: a sound's highs go where its
        upper band goes, instead of all of them landing in the residual.
        """
        cfg = self.model.cfg
        if sr == cfg.sample_rate:
            spec = self.model.stft(x)
            return self.model.istft(spec * mask, x.shape[-1])
        scale = sr / cfg.sample_rate
        n_fft = max(16, 2 * round(cfg.n_fft * scale / 2))
        hop = max(4, round(cfg.hop * scale))
        window = torch.hann_window(n_fft, device=x.device)
        spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)  # [C, bins_n, frames_n]
        bins_n, frames_n = spec.shape[-2:]
        # time: model frames -> native frames (both centred, same hop in seconds up to rounding)
        m = torch.nn.functional.interpolate(mask[None], size=frames_n, mode="linear", align_corners=True)[0]
        # frequency: native bin k sits at k*sr/n_fft Hz = k*sr/n_fft * cfg.n_fft/cfg.sample_rate model bins
        pos = torch.arange(bins_n, device=x.device) * (sr / n_fft) * (cfg.n_fft / cfg.sample_rate)
        top = mask.shape[0] - 1
        lo = pos.floor().clamp(max=top - 1).long()
        w = (pos - lo).clamp(0, 1)[:, None]
        native = m[lo] * (1 - w) + m[lo + 1] * w
        high_band = m[-max(1, mask.shape[0] * 1000 // (cfg.sample_rate // 2)):].mean(0, keepdim=True)
        native = torch.where((pos > top)[:, None], high_band, native)
        return torch.istft(spec * native, n_fft, hop, window=window, length=x.shape[-1])

    @staticmethod
    def _check_prompt(prompt: str) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError("the prompt is empty: describe the sound to separate, e.g. \"dog barking\"",
                              param="prompt")
        prompt = " ".join(prompt.split())
        if len(prompt) > MAX_PROMPT_CHARS:
            raise PromptError(f"the prompt is {len(prompt)} characters; keep it under {MAX_PROMPT_CHARS}",
                              param="prompt")
        return prompt

    @staticmethod
    def _check_options(*, predict_spans: bool, candidates: int, acceleration: str, chunk: float,
                       overlap: float) -> None:
        if acceleration not in ACCELERATION_PRESETS:
            raise OptionError(f"acceleration must be one of {ACCELERATION_PRESETS}, got {acceleration!r}",
                              param="acceleration")
        if not isinstance(candidates, int) or not 1 <= candidates <= 8:
            raise OptionError(f"reranking_candidates must be an integer from 1 to 8, got {candidates!r}",
                              param="reranking_candidates")
        if not 0 < chunk <= 300:
            raise OptionError(f"max_chunk_duration must be > 0 and <= 300 seconds, got {chunk}",
                              param="max_chunk_duration")
        if not 0 <= overlap <= 30:
            raise OptionError(f"chunk_overlap must be between 0 and 30 seconds, got {overlap}", param="chunk_overlap")
        if predict_spans or candidates > 1:
            raise OptionError("predict_spans and reranking_candidates > 1 are not available in this version yet",
                              param="predict_spans" if predict_spans else "reranking_candidates")
