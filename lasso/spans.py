"""Span prompts: where the target sound is (include) or is not (exclude), in seconds.

The model sees spans as a per-frame state (unknown / present / absent). Excluded intervals are also enforced on
the output: the target is silent there, so that audio ends up in the residual.
"""

from collections.abc import Iterable, Mapping

import numpy as np
import torch

from lasso.errors import OptionError
from lasso.options import Span, check_span

UNKNOWN, PRESENT, ABSENT = 0, 1, 2


def parse_spans(spans: Iterable[Span | Mapping] | None, duration: float) -> list[Span]:
    """Check user spans (each on its own: `lasso.options.check_span`) against the audio's duration and each other;
    raise OptionError with a clear reason."""
    out = [check_span(s, i) for i, s in enumerate(spans or [])]
    for i, span in enumerate(out):
        if span.start >= duration:
            raise OptionError(f"spans[{i}] starts at {span.start:.2f} s, after the end of the audio "
                              f"({duration:.2f} s)", param=f"spans.{i}.start")
    out.sort(key=lambda s: s.start)
    for a in out:
        for b in out:
            if a is not b and a.include != b.include and a.start < b.end and b.start < a.end:
                raise OptionError(f"spans {a.start}-{a.end} (include={a.include}) and {b.start}-{b.end} "
                                  f"(include={b.include}) overlap but contradict each other", param="spans")
    return out


def span_states(spans: list[Span], num_frames: int, hop_seconds: float, offset: float = 0.0,
                outside: int | None = None) -> torch.Tensor:
    """Per-frame model input [num_frames] (long): PRESENT inside include spans, ABSENT inside exclude spans.

    Frames outside every span get `outside`; by default ABSENT when any include span is given (the user has said
    where the target is) and UNKNOWN otherwise. Predicted spans pass UNKNOWN: a missed onset should not be erased.
    """
    times = offset + np.arange(num_frames) * hop_seconds
    if outside is None:
        outside = ABSENT if any(s.include for s in spans) else UNKNOWN
    states = np.full(num_frames, outside, dtype=np.int64)
    for s in spans:
        states[(times >= s.start) & (times < s.end)] = PRESENT if s.include else ABSENT
    return torch.from_numpy(states)


def exclusion_gain(spans: list[Span], num_samples: int, sample_rate: int, offset: float = 0.0,
                   fade: float = 0.01) -> np.ndarray | None:
    """Gain [num_samples] that silences the target inside exclude spans (10 ms fades); None when there are none."""
    excluded = [s for s in spans if not s.include]
    if not excluded:
        return None
    t = offset + np.arange(num_samples) / sample_rate
    gain = np.ones(num_samples, dtype=np.float32)
    for s in excluded:
        # 1 outside, 0 inside, linear ramps of `fade` seconds just inside the interval
        inside = np.clip(np.minimum(t - s.start, s.end - t) / fade, 0.0, 1.0)
        gain = np.minimum(gain, 1.0 - inside)
    return gain


def activity_to_spans(active: np.ndarray, window: float, *, min_gap: float = 0.3, min_len: float = 0.15,
                      pad: float = 0.05, duration: float | None = None) -> list[Span]:
    """Per-window activity -> include spans: gaps shorter than `min_gap` closed, blips shorter than `min_len`
    dropped, each span padded by `pad` seconds (clipped to the audio)."""
    spans: list[list[float]] = []
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, end = s * window, e * window
        if spans and start - spans[-1][1] < min_gap:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    limit = duration if duration is not None else len(active) * window
    out = [Span(max(0.0, s - pad), min(limit, e + pad), True) for s, e in spans if e - s >= min_len]
    return [s for s in out if s.end > s.start]
