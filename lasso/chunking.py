"""Overlapping chunks for long audio, blended so the seams do not show.

Both neighbours estimate the same coherent signal in an overlap, so their weights must sum to one there
(a raised-cosine, i.e. sin^2/cos^2, crossfade: equal-power in shape, equal-gain in sum). A true equal-power
sum (sin/cos) would lift the target by up to 3 dB in the middle of every overlap, which is exactly a seam.
"""

from collections.abc import Iterator

import numpy as np


def chunk_bounds(num_samples: int, chunk: int, overlap: int) -> Iterator[tuple[int, int]]:
    """(start, end) sample ranges of length <= chunk that overlap by `overlap` and cover [0, num_samples)."""
    if num_samples <= chunk:
        yield 0, num_samples
        return
    step = chunk - overlap
    start = 0
    while True:
        end = min(start + chunk, num_samples)
        yield start, end
        if end == num_samples:
            return
        start += step


def fade_weights(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Weight [length]: raised-cosine ramps at each end; overlapping ramps of equal length sum to exactly 1."""
    w = np.ones(length, dtype=np.float32)
    if fade_in:
        w[:fade_in] = np.sin(0.5 * np.pi * (np.arange(fade_in) + 0.5) / fade_in) ** 2
    if fade_out:
        w[length - fade_out:] = np.cos(0.5 * np.pi * (np.arange(fade_out) + 0.5) / fade_out) ** 2
    return w
