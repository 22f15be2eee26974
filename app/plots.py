"""Pictures of audio for the workbench: the input overview (waveform + spectrogram + spans) and the output comparison.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot global state, so concurrent requests
don't share a figure) and returned as RGB arrays for `gr.Image`. The overview keeps a fixed layout so that a click
on the picture maps back to a time (`x_to_seconds`). Spectrograms take a bounded number of frames whatever the
length, so a 4-hour input costs the same to draw as an 8-second one.
"""

from collections.abc import Iterable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lasso import Span

# overview layout, in figure fractions: fixed so that clicks map to times
LEFT, RIGHT, BOTTOM, TOP = 0.06, 0.99, 0.16, 0.97
WIDTH_IN, DPI = 12.0, 100
N_FFT = 1024
MAX_FRAMES = 1200  # spectrogram columns drawn, whatever the duration
MAX_KHZ = 16.0  # upper edge of the pictures: above it there is little to see and much to compute
INCLUDE_COLOR, EXCLUDE_COLOR, PREDICTED_COLOR = "#2ca02c", "#d62728", "#1f77b4"


def mono(audio: np.ndarray) -> np.ndarray:
    """[channels, samples] or [samples] -> [samples] mix (what the pictures show)."""
    audio = np.asarray(audio, dtype=np.float32)
    return audio.mean(axis=0) if audio.ndim == 2 else audio


def spectrogram_db(x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """Magnitude in dB [bins, frames] up to MAX_KHZ, and the seconds per frame.

    Frames are taken at evenly spaced positions (at most MAX_FRAMES), so long inputs are sampled, not averaged:
    a picture only needs one column per pixel.
    """
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    frames = min(MAX_FRAMES, max(1, (len(x) - N_FFT) // 256 + 1))
    starts = np.linspace(0, len(x) - N_FFT, frames).astype(np.int64)
    windows = x[starts[:, None] + np.arange(N_FFT)] * np.hanning(N_FFT).astype(np.float32)
    bins = int(min(N_FFT // 2 + 1, MAX_KHZ * 1000 * N_FFT / sr + 1))
    mag = np.abs(np.fft.rfft(windows, axis=1))[:, :bins].T  # [bins, frames]
    return 20 * np.log10(mag + 1e-6), len(x) / sr / frames


def _envelope(x: np.ndarray, columns: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times fraction, min, max) per column: the waveform outline without plotting millions of points."""
    n = max(1, len(x) // columns)
    cols = len(x) // n
    blocks = x[: cols * n].reshape(cols, n)
    return np.linspace(0, 1, cols), blocks.min(axis=1), blocks.max(axis=1)


def _canvas_to_array(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _draw_spans(ax, spans: Iterable[Span], predicted: Iterable[Span]) -> None:
    for s in spans:
        color = INCLUDE_COLOR if s.include else EXCLUDE_COLOR
        ax.axvspan(s.start, s.end, color=color, alpha=0.25, hatch=None if s.include else "//", lw=0)
    for s in predicted:
        ax.axvspan(s.start, s.end, facecolor=PREDICTED_COLOR, alpha=0.12, lw=0)
        ax.axvspan(s.start, s.end, facecolor="none", edgecolor=PREDICTED_COLOR, lw=1.5, ls="--")


def _spectrogram_axes(ax, x: np.ndarray, sr: int, duration: float, vmin: float | None = None,
                      vmax: float | None = None):
    db, _ = spectrogram_db(x, sr)
    top_khz = (db.shape[0] - 1) * sr / N_FFT / 1000
    vmax = db.max() if vmax is None else vmax
    vmin = vmax - 80 if vmin is None else vmin
    im = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=(0, duration, 0, top_khz), vmin=vmin,
                   vmax=vmax, interpolation="nearest")
    ax.set_ylabel("kHz")
    return im


def overview_image(audio: np.ndarray, sr: int, spans: Iterable[Span] = (),
                   predicted: Iterable[Span] = ()) -> np.ndarray:
    """Waveform over spectrogram of the input, one time axis, user spans shaded and predicted spans outlined.

    Green = include (the target is here), red hatched = exclude, blue dashed = spans the model predicted.
    """
    x = mono(audio)
    duration = len(x) / sr
    spans, predicted = list(spans), list(predicted)
    fig = Figure(figsize=(WIDTH_IN, 3.4), dpi=DPI)
    fig.subplots_adjust(left=LEFT, right=RIGHT, bottom=BOTTOM, top=TOP, hspace=0.08)
    ax_w, ax_s = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    t, lo, hi = _envelope(x)
    ax_w.fill_between(t * duration, lo, hi, color="#444", lw=0)
    ax_w.set_ylim(-1.05 * max(1e-3, np.abs(x).max()), 1.05 * max(1e-3, np.abs(x).max()))
    ax_w.set_yticks([])
    _spectrogram_axes(ax_s, x, sr, duration)
    for ax in (ax_w, ax_s):
        _draw_spans(ax, spans, predicted)
    ax_s.set_xlim(0, duration)
    ax_s.set_xlabel("time (s)")
    return _canvas_to_array(fig)


def x_to_seconds(x_pixel: float, image_width: int, duration: float) -> float:
    """Where a click at `x_pixel` on the overview falls in time, clamped to the audio."""
    frac = (x_pixel / max(1, image_width) - LEFT) / (RIGHT - LEFT)
    return round(float(np.clip(frac, 0.0, 1.0)) * duration, 2)


def comparison_image(inp: np.ndarray, target: np.ndarray, residual: np.ndarray, sr: int) -> np.ndarray:
    """Input, target and residual spectrograms on the same time, frequency and colour axes, so they compare."""
    x, tg, rs = mono(inp), mono(target), mono(residual)
    duration = len(x) / sr
    fig = Figure(figsize=(WIDTH_IN, 6.0), dpi=DPI)
    fig.subplots_adjust(left=LEFT, right=0.93, bottom=0.08, top=0.96, hspace=0.12)
    axes = fig.subplots(3, 1, sharex=True, sharey=True)
    vmax = spectrogram_db(x, sr)[0].max()
    im = None
    for ax, signal, name in zip(axes, (x, tg, rs), ("input", "target", "residual"), strict=True):
        im = _spectrogram_axes(ax, signal, sr, duration, vmin=vmax - 80, vmax=vmax)
        ax.text(0.005, 0.93, name, transform=ax.transAxes, color="white", va="top", fontsize=11,
                bbox={"facecolor": "black", "alpha": 0.5, "lw": 0})
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    fig.colorbar(im, ax=list(axes), fraction=0.02, pad=0.01, label="dB")
    return _canvas_to_array(fig)
