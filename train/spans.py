"""Span hints for training: teach the model to use the per-frame span input without depending on it.

Half of the examples get no hint (all UNKNOWN, the common case at inference); the rest get the kinds of hints
users give: the true activity as include spans, a few include intervals only, or exclude intervals where the
target is silent.
"""

import numpy as np
import torch

from lasso.models import ABSENT, PRESENT, UNKNOWN


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where mask is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def span_hints(activity: torch.Tensor, num_frames: int, rng: np.random.Generator, p_none: float = 0.5) -> torch.Tensor:
    """activity [B, F] bool -> span states [B, num_frames] long (frames beyond F stay UNKNOWN)."""
    b, f = activity.shape
    states = np.full((b, num_frames), UNKNOWN, dtype=np.int64)
    for i, act in enumerate(activity.numpy()):
        r = rng.random()
        if r < p_none:
            continue
        if r < p_none + (1 - p_none) / 3:  # full include spans: present where active, absent elsewhere
            states[i, :f] = np.where(act, PRESENT, ABSENT)
        elif r < p_none + 2 * (1 - p_none) / 3:  # a few include intervals only
            for s, e in _runs(act):
                if rng.random() < 0.5:
                    states[i, s:e] = PRESENT
        else:  # exclude intervals where the target is silent
            for s, e in _runs(~act):
                if rng.random() < 0.5:
                    states[i, s:e] = ABSENT
    return torch.from_numpy(states)
