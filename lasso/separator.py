"""The one way in: `Separator.from_pretrained().separate(audio, sample_rate, prompt, ...)`.

The CLI, the Gradio app, the API worker and the notebooks all call this, so every option behaves the same
everywhere. Long inputs are cut into overlapping chunks and blended (lasso.chunking); a `source` + `sink` pair
lets lasso.files stream a long file from disk to disk in constant memory.
"""

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from lasso.audio import as_channels_first, resample
from lasso.checkpoint import load_checkpoint
from lasso.chunking import OverlapAdd, aligned_chunking, chunk_bounds
from lasso.config import InferenceConfig
from lasso.errors import OptionError, PromptError, TooLongError
from lasso.inference import PRESETS, apply_mask, chunk_grid, estimate_mask, predict_activity
from lasso.models.lasso_net import LassoNet
from lasso.models.text_encoder import load_text_encoder
from lasso.options import PROMPT_MAX_CHARS, SeparationOptions
from lasso.rerank import Variant, load_judge, make_variants
from lasso.spans import UNKNOWN, Span, activity_to_spans, exclusion_gain, parse_spans, span_states

ProgressCallback = Callable[[dict[str, Any]], None]
Sink = Callable[[int, np.ndarray, np.ndarray], None]  # (start sample, target block, residual block)
SPAN_WINDOW = 0.1  # s; resolution of predicted spans
RERANK_SECONDS = 60.0  # s of audio (the first chunk) on which candidates are made and scored


class AudioSource(Protocol):
    """Random access to [channels, samples] float32 audio, e.g. a file on disk (lasso.files)."""

    sample_rate: int
    channels: int
    num_samples: int

    def read(self, start: int, end: int) -> np.ndarray: ...


class ArraySource:
    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        self.audio, self.sample_rate = audio, sample_rate
        self.channels, self.num_samples = audio.shape

    def read(self, start: int, end: int) -> np.ndarray:
        return self.audio[:, start:end]


@dataclass
class SeparationResult:
    target: np.ndarray | None  # same shape as the input (None when streamed to a sink)
    residual: np.ndarray | None  # input - target
    sample_rate: int
    prompt: str
    spans: list[Span] = field(default_factory=list)  # the spans used (given or predicted)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # index, variant, score, chosen, target, residual
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    settings: dict[str, Any] = field(default_factory=dict)  # the effective options


class Separator:
    def __init__(self, model: LassoNet, text_encoder, *, device: str = "cpu", defaults: InferenceConfig | None = None,
                 checkpoint_meta: dict | None = None, reranker: str | Path | None = None) -> None:
        self.model = model.to(device).eval()
        self.text_encoder = text_encoder
        self.device = device
        self.defaults = defaults or InferenceConfig()
        self.checkpoint_meta = checkpoint_meta or {}
        self._reranker_path, self._reranker = reranker, None

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, device: str | None = None,
                        defaults: InferenceConfig | None = None, reranker: str | Path | None = None) -> "Separator":
        """Load the shipped model (path=None), a checkpoint file, or "debug" (a random tiny model); `reranker` is the
        candidate judge file for reranking (default: the shipped one, loaded on first use; "debug": random)."""
        model, blob = load_checkpoint(path)
        enc = blob["text_encoder"]
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model, load_text_encoder(enc["name"], **enc.get("options", {})), device=device,
                   defaults=defaults, checkpoint_meta=blob.get("meta", {}), reranker=reranker)

    @property
    def sample_rate(self) -> int:
        """The model's internal rate; inputs at any rate are accepted."""
        return self.model.cfg.sample_rate

    @property
    def reranker(self):
        """The candidate judge (lasso.rerank), loaded on first use: most calls never rerank."""
        if self._reranker is None:
            self._reranker = load_judge(self._reranker_path).to(self.device)
        return self._reranker

    def separate(self, audio: np.ndarray | AudioSource, sample_rate: int, prompt: str,
                 options: SeparationOptions | None = None, *,
                 spans: Iterable[Span | Mapping] | None = None, predict_spans: bool | None = None,
                 reranking_candidates: int | None = None, acceleration: str | None = None,
                 max_chunk_duration: float | None = None, chunk_overlap: float | None = None,
                 progress: ProgressCallback | None = None, sink: Sink | None = None) -> SeparationResult:
        """Separate what `prompt` describes from `audio` ([samples] or [channels, samples], any rate).

        options: all the options below as one checked value (lasso.options; default: this Separator's defaults);
        any option also given by keyword overrides it.
        spans: [{start, end, include}] in seconds (include: the target sounds there; exclude: it does not).
        predict_spans: when no spans are given, find where the prompted sound is and use those as include spans.
        reranking_candidates: make k different candidates and keep the one the candidate judge ranks best.
        acceleration: "fast" | "balanced" | "quality" (see lasso.inference.PRESETS).
        max_chunk_duration / chunk_overlap: seconds per chunk and of crossfade for long audio.
        sink: receive finished (start, target, residual) blocks instead of holding whole arrays in memory.
        """
        t0 = time.perf_counter()
        d = self.defaults
        opts = (options or d.options).replace(
            spans=spans, predict_spans=predict_spans, reranking_candidates=reranking_candidates,
            acceleration=acceleration, max_chunk_duration=max_chunk_duration, chunk_overlap=chunk_overlap)
        k = opts.reranking_candidates
        prompt = self._check_prompt(prompt)
        streamed = hasattr(audio, "read")
        squeeze = not streamed and np.asarray(audio).ndim == 1
        source = audio if streamed else ArraySource(as_channels_first(audio), int(sample_rate))
        sr = source.sample_rate
        if not 1000 <= sr <= 384000:
            raise OptionError(f"sample_rate must be between 1000 and 384000 Hz, got {sr}", param="sample_rate")
        duration = source.num_samples / sr
        if duration > d.max_duration:
            raise TooLongError(f"the audio is {duration:.0f} s long; the limit is {d.max_duration:.0f} s")
        span_list = parse_spans(opts.spans, duration)
        text = self._embed(prompt)
        preset = PRESETS[opts.acceleration]
        chunk = max(1, int(opts.max_chunk_duration * sr))
        # the crossfade can be at most half a chunk, or three chunks would overlap and the weights not sum to one
        overlap = min(int(opts.chunk_overlap * sr), chunk // 2)
        chunk, overlap = aligned_chunking(chunk, overlap, chunk_grid(self.model, sr))
        bounds = chunk_bounds(source.num_samples, chunk, overlap)
        timings = {"text": time.perf_counter() - t0}

        outside = None  # span state of frames outside every span (see span_states)
        if opts.predict_spans and not span_list:
            span_list = self._predict_spans(source, bounds, overlap, text, preset, progress)
            outside = UNKNOWN
            timings["predict_spans"] = time.perf_counter() - t0 - sum(timings.values())
        variant, candidates = Variant(prompt), []
        if k > 1:
            variant, candidates = self._rerank(source, prompt, k, span_list, outside, opts.acceleration)
            timings["rerank"] = time.perf_counter() - t0 - sum(timings.values())
            text = self._embed(variant.prompt)

        blocks_t, blocks_r = [], []
        for start, target, residual in self._run(source, bounds, overlap, text, span_list, outside, preset, variant,
                                                 progress, "separate"):
            if sink:
                sink(start, target, residual)
            else:
                blocks_t.append(target)
                blocks_r.append(residual)
        timings["separate"] = time.perf_counter() - t0 - sum(timings.values())
        timings["total"] = time.perf_counter() - t0
        target = residual = None
        if not sink:
            target, residual = np.concatenate(blocks_t, axis=1), np.concatenate(blocks_r, axis=1)
            if squeeze:
                target, residual = target[0], residual[0]
        return SeparationResult(target, residual, sr, prompt, span_list, candidates, timings,
                                {**opts.settings(), "chunk_duration_used": chunk / sr,
                                 "chunk_overlap_used": overlap / sr, "variant": variant.describe(prompt)})

    # -- the chunk loop, shared by every option ------------------------------------------------------------------
    def _run(self, source: AudioSource, bounds, overlap: int, text: torch.Tensor, spans: list[Span],
             outside: int | None, preset, variant: Variant, progress: ProgressCallback | None, stage: str):
        """Yield (start, target, residual) blocks [channels, n] in order, crossfaded across chunk seams."""
        sr, m = source.sample_rate, self.model
        ola = OverlapAdd(bounds, overlap, source.channels)
        for i, (start, end) in enumerate(bounds):
            x = torch.from_numpy(np.ascontiguousarray(source.read(start, end), dtype=np.float32)).to(self.device)
            mono = resample(x.mean(0), sr, m.cfg.sample_rate)
            states = span_states(spans, m.frames(mono.shape[-1]), m.cfg.hop / m.cfg.sample_rate, start / sr,
                                 outside)[None]
            mask = estimate_mask(m, mono, text, states.to(self.device), preset.tta_shifts, variant.shift,
                                 preset.window_hop)
            if variant.sharpness != 1.0:
                mask = mask ** variant.sharpness
            est = apply_mask(m, x, sr, mask, preset.native_mask).cpu().numpy()
            for block_start, target in ola.add(i, est):
                gain = exclusion_gain(spans, target.shape[1], sr, offset=block_start / sr)
                if gain is not None:
                    target = target * gain
                mix = source.read(block_start, block_start + target.shape[1])
                yield block_start, target, mix - target
            if progress:
                progress({"stage": stage, "chunk": i + 1, "chunks": len(bounds), "fraction": end / source.num_samples})

    def _predict_spans(self, source, bounds, overlap, text, preset, progress) -> list[Span]:
        """A first pass without spans; where its target holds a real share of the mix becomes an include span."""
        sr = source.sample_rate
        active = []
        for start, target, residual in self._run(source, bounds, overlap, text, [], None, preset, Variant(""),
                                                 progress, "predict_spans"):
            active.append((start, target.mean(0), (target + residual).mean(0)))
        target = np.concatenate([a[1] for a in active])
        mixture = np.concatenate([a[2] for a in active])
        activity = predict_activity(target, mixture, sr, window=SPAN_WINDOW)
        return activity_to_spans(activity, SPAN_WINDOW, duration=source.num_samples / sr)

    def candidates(self, audio: np.ndarray, sample_rate: int, prompt: str, variants: list[Variant], *,
                   spans: list[Span] | None = None, outside: int | None = None,
                   acceleration: str = "balanced") -> list[tuple[np.ndarray, np.ndarray]]:
        """(target, residual) of `audio` ([samples] or [channels, samples], one chunk) for each variant.

        The reranking candidates; public so the judge is trained on exactly what reranking will show it.
        """
        x = as_channels_first(np.asarray(audio, dtype=np.float32))
        source, squeeze = ArraySource(x, int(sample_rate)), np.asarray(audio).ndim == 1
        outs = []
        for v in variants:
            (_, target, residual), = self._run(source, [(0, source.num_samples)], 0, self._embed(v.prompt),
                                               spans or [], outside, PRESETS[acceleration], v, None, "rerank")
            outs.append((target[0], residual[0]) if squeeze else (target, residual))
        return outs

    def _rerank(self, source, prompt: str, k: int, spans: list[Span], outside: int | None,
                acceleration: str) -> tuple[Variant, list[dict]]:
        """Make k candidates on the first RERANK_SECONDS, score them, return the best variant and all candidates.

        Candidates are judged on (at most) the first minute so a long file is never held k times in memory; the
        chosen variant is then applied to the whole input, so it cannot switch sources between chunks.
        """
        sr = source.sample_rate
        n = min(source.num_samples, int(RERANK_SECONDS * sr))
        variants = make_variants(prompt, k, self.model.cfg.hop)
        outs = self.candidates(source.read(0, n), sr, prompt, variants, spans=spans, outside=outside,
                               acceleration=acceleration)
        to_model = [resample(torch.from_numpy(x.mean(0)), sr, self.sample_rate) for pair in outs for x in pair]
        targets, residuals = torch.stack(to_model[0::2]), torch.stack(to_model[1::2])
        scores = self.reranker.score(targets.to(self.device), residuals.to(self.device),
                                     self._embed(prompt)).cpu().tolist()
        best = int(np.argmax(scores))
        candidates = [{"index": i, "variant": v.describe(prompt), "score": float(s), "chosen": i == best,
                       "target": t, "residual": r, "sample_rate": sr, "seconds": n / sr}
                      for i, (v, s, (t, r)) in enumerate(zip(variants, scores, outs, strict=True))]
        return variants[best], candidates

    def _embed(self, prompt: str) -> torch.Tensor:
        return self.text_encoder.encode([prompt]).to(self.device)

    @staticmethod
    def _check_prompt(prompt: str) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError("the prompt is empty: describe the sound to separate, e.g. \"dog barking\"",
                              param="prompt")
        prompt = " ".join(prompt.split())
        if len(prompt) > PROMPT_MAX_CHARS:
            raise PromptError(f"the prompt is {len(prompt)} characters; keep it under {PROMPT_MAX_CHARS}",
                              param="prompt")
        return prompt
