"""Overlapping chunks for long audio, blended so the seams do not show.

Both neighbours estimate the same coherent signal in an overlap, so their weights must sum to one there
(a raised-cosine, i.e. sin^2/cos^2, crossfade: equal-power in shape, equal-gain in sum). A true equal-power
sum (sin/cos) would lift the target by up to 3 dB in the middle of every overlap, which is exactly a seam.
`OverlapAdd` emits finished samples as soon as no later chunk can touch them, so a long file streams through
in constant memory.
"""

from collections.abc import Iterator

import numpy as np


def chunk_bounds(num_samples: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) sample ranges of length <= chunk that overlap by `overlap` and cover [0, num_samples).

    The last chunk is always longer than `overlap`, so every crossfade fits inside both of its chunks.
    """
    if num_samples <= chunk:
        return [(0, num_samples)]
    step = chunk - overlap
    bounds, start = [], 0
    while True:
        end = min(start + chunk, num_samples)
        bounds.append((start, end))
        if end == num_samples:
            return bounds
        start += step


def aligned_chunking(chunk: int, overlap: int, grid: int) -> tuple[int, int]:
    """(chunk, overlap) in samples with every chunk start on a multiple of `grid`, the crossfade at most one step.

    Why: a chunk that starts off the model's grid (lasso.inference.chunk_grid) is analysed on shifted frames, a
    slightly different (equally valid) estimate than one pass gives. With starts on the grid, a network whose frames
    do not depend on the input's length gives one pass's result everywhere but in the crossfades. The chunk shrinks
    by less than one grid step; a grid longer than a quarter chunk (odd sample rates) is not used.
    """
    if grid <= 1 or 4 * grid > chunk:
        return chunk, overlap
    step = max(grid, (chunk - overlap) // grid * grid)
    overlap = min(overlap, step)  # at most two chunks overlap anywhere, so the fade weights sum to one
    return step + overlap, overlap


def fade_weights(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Weight [length]: raised-cosine ramps at each end; overlapping ramps of equal length sum to exactly 1."""
    w = np.ones(length, dtype=np.float32)
    if fade_in:
        w[:fade_in] = np.sin(0.5 * np.pi * (np.arange(fade_in) + 0.5) / fade_in) ** 2
    if fade_out:
        w[length - fade_out:] = np.cos(0.5 * np.pi * (np.arange(fade_out) + 0.5) / fade_out) ** 2
    return w


class OverlapAdd:
    """Accumulate weighted chunk estimates [channels, n] in order; yield finished (start, block) pieces."""

    def __init__(self, bounds: list[tuple[int, int]], overlap: int, channels: int) -> None:
        self.bounds, self.overlap, self.channels = bounds, overlap, channels
        self.pending = np.zeros((channels, 0), dtype=np.float32)  # samples from `done` on, not final yet
        self.done = 0

    def add(self, index: int, estimate: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        start, end = self.bounds[index]
        last = index == len(self.bounds) - 1
        w = fade_weights(end - start, self.overlap if index else 0, 0 if last else self.overlap)
        grow = end - self.done - self.pending.shape[1]
        if grow > 0:
            self.pending = np.concatenate([self.pending, np.zeros((self.channels, grow), np.float32)], axis=1)
        self.pending[:, start - self.done:end - self.done] += estimate * w
        final_until = end if last else self.bounds[index + 1][0]  # the next chunk starts writing here
        n = final_until - self.done
        if n > 0:
            yield self.done, self.pending[:, :n]
            self.pending = self.pending[:, n:]
            self.done = final_until
