"""Turning the network into a separation of one chunk: mask estimation, presets, and the native-rate mask.

The mask is estimated once at the model's rate (16 kHz, mono mix) and applied at the input's own rate to every
channel, so outputs keep the input's sample rate, channels and full bandwidth, and target + residual == input.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from lasso.audio import resample
from lasso.chunking import chunk_bounds, fade_weights
from lasso.models.lasso_net import LassoNet


@dataclass(frozen=True)
class Preset:
    """What an `acceleration` value means, concretely."""

    native_mask: bool  # apply the mask on the input-rate STFT (full bandwidth) rather than at 16 kHz
    tta_shifts: int  # passes with the STFT grid shifted by hop/n, masks averaged (test-time augmentation)
    window_hop: int  # frames between the 6 s mask windows: a smaller hop averages more windows per frame
    description: str


PRESETS = {
    "fast": Preset(False, 1, 690, "one pass; mask applied at 16 kHz, so content above 8 kHz stays in the residual; "
                                  "a `global` model's 6 s mask windows overlap by 0.5 s instead of 3 s"),
    "balanced": Preset(True, 1, 375, "one pass; mask mapped onto the input's own STFT (full bandwidth); a `global` "
                                     "model's 6 s mask windows overlap by half"),
    "quality": Preset(True, 3, 375, "as balanced, with three passes on STFT grids shifted by a third of a hop and "
                                    "the masks averaged"),
}


WINDOW_FRAMES = 750  # 6 s of 8 ms frames: masks are estimated on windows close to the 4 s training segments
WINDOW_HOP = 375  # 3 s: a fixed grid from the start of the chunk, so chunks starting on it see the same windows


def chunk_grid(model: LassoNet, sample_rate: int) -> int:
    """Samples at `sample_rate` between the places a chunk may start and be analysed exactly as in one pass.

    A `frame` network pools `time_stride` frames, so its grid is that many hops; a `global` one also sees its mask
    windows, so its grid is a whole number of window hops as well."""
    cfg = model.cfg
    frames = cfg.time_stride if model.length_independent else math.lcm(cfg.time_stride, WINDOW_HOP)
    model_samples = frames * cfg.hop
    return model_samples * sample_rate // math.gcd(cfg.sample_rate, model_samples * sample_rate)


@torch.inference_mode()
def estimate_mask(model: LassoNet, mono: torch.Tensor, text: torch.Tensor, states: torch.Tensor,
                  shifts: int = 1, shift: int = 0, window_hop: int = WINDOW_HOP) -> torch.Tensor:
    """mono [T] at the model rate -> mask [bins, frames], estimated on overlapping 6 s windows and blended.

    Why windows: the `global` network's normalisation layers pool over time, so one pass over a long input would see
    other statistics than the 4 s segments it was trained on, and its output would depend on where a chunk starts.
    A length-independent (`frame`) network runs in one pass.
    """
    frames = model.frames(mono.shape[-1])
    if frames <= WINDOW_FRAMES or model.length_independent:
        return _estimate(model, mono, text, states, shifts, shift)
    hop = model.cfg.hop
    fade = WINDOW_FRAMES - window_hop
    bounds = chunk_bounds(frames, WINDOW_FRAMES, fade)
    mask = weight = None
    for i, (f0, f1) in enumerate(bounds):
        part = mono[f0 * hop: (f1 - 1) * hop + 1]
        m = _estimate(model, part, text, states[..., f0:f1], shifts, shift)[:, : f1 - f0]
        w = torch.from_numpy(fade_weights(f1 - f0, fade if i else 0, fade if i < len(bounds) - 1 else 0))
        w = w.clamp(min=1e-3).to(m.device)  # blended by the summed weight, so any overlap adds up to one
        if mask is None:
            mask, weight = torch.zeros(m.shape[0], frames, device=m.device), torch.zeros(frames, device=m.device)
        mask[:, f0:f1] += m * w
        weight[f0:f1] += w
    return mask / weight


def _estimate(model: LassoNet, mono: torch.Tensor, text: torch.Tensor, states: torch.Tensor,
              shifts: int = 1, shift: int = 0) -> torch.Tensor:
    """mono [T] at the model rate -> mask [bins, frames] on the model's STFT grid.

    With shifts > 1 the input is delayed by k*hop/shifts samples, the mask estimated and moved back onto the
    unshifted grid by interpolation; averaging smooths the grid's arbitrary placement.
    """
    hop = model.cfg.hop
    masks = []
    for k in range(shifts):
        delay = shift + (k * hop) // shifts
        x = F.pad(mono, (delay, 0)) if delay else mono
        spec = model.stft(x[None])
        m = model.estimate_mask(spec.abs(), text, _fit(states, spec.shape[-1]))[0]
        if delay:  # frame f of the shifted grid sits at f*hop - delay on the original time axis
            frames = model.frames(mono.shape[-1])
            pos = (torch.arange(frames, device=m.device) * hop + delay) / hop
            lo = pos.floor().long().clamp(max=m.shape[-1] - 2)
            w = (pos - lo).clamp(0, 1)
            m = m[:, lo] * (1 - w) + m[:, lo + 1] * w
        masks.append(m)
    return torch.stack(masks).mean(0)


def _fit(states: torch.Tensor, frames: int) -> torch.Tensor:
    """Span states [1, F] padded (unknown) or cut to `frames`."""
    if states.shape[-1] >= frames:
        return states[..., :frames]
    return F.pad(states, (0, frames - states.shape[-1]))


def apply_mask(model: LassoNet, x: torch.Tensor, sr: int, mask: torch.Tensor, native: bool) -> torch.Tensor:
    """x [channels, samples] at sr, mask [bins, frames] at the model rate -> target [channels, samples] at sr."""
    cfg = model.cfg
    if sr == cfg.sample_rate:
        return model.istft(model.stft(x) * mask, x.shape[-1])
    if not native:
        low = resample(x, sr, cfg.sample_rate)
        target = model.istft(model.stft(low) * mask[:, : model.frames(low.shape[-1])], low.shape[-1])
        return resample(target, cfg.sample_rate, sr)[..., : x.shape[-1]]
    return _apply_native(model, x, sr, mask)


def _apply_native(model: LassoNet, x: torch.Tensor, sr: int, mask: torch.Tensor) -> torch.Tensor:
    """Map the model-rate mask onto the input's STFT (same window length in seconds).

    Frequencies above the model's Nyquist get the mean mask of its top 1 kHz: a sound's highs go where its upper
    band goes, instead of all of them landing in the residual.
    """
    cfg = model.cfg
    scale = sr / cfg.sample_rate
    n_fft = max(16, 2 * round(cfg.n_fft * scale / 2))
    hop = max(4, round(cfg.hop * scale))
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)  # [C, bins_n, frames_n]
    bins_n, frames_n = spec.shape[-2:]
    m = F.interpolate(mask[None], size=frames_n, mode="linear", align_corners=True)[0]  # time: onto native frames
    pos = torch.arange(bins_n, device=x.device) * (sr / n_fft) * (cfg.n_fft / cfg.sample_rate)  # in model bins
    top = mask.shape[0] - 1
    lo = pos.floor().clamp(max=top - 1).long()
    w = (pos - lo).clamp(0, 1)[:, None]
    native = m[lo] * (1 - w) + m[lo + 1] * w
    high_band = m[-max(1, mask.shape[0] * 1000 // (cfg.sample_rate // 2)):].mean(0, keepdim=True)
    native = torch.where((pos > top)[:, None], high_band, native)
    return torch.istft(spec * native, n_fft, hop, window=window, length=x.shape[-1])


def predict_activity(target: np.ndarray, mixture: np.ndarray, sr: int, *, window: float = 0.1,
                     rel_db: float = -30.0, share_db: float = -20.0) -> np.ndarray:
    """Per-window activity [n] of the separated target: loud relative to itself and a real share of the mix.

    A window is active when the target's energy there is within `rel_db` of its loudest window and at least
    `share_db` of the mixture's energy in the same window. The thresholds were chosen on validation items 200-299
    (frame F1 0.55 at -12 dB, 0.61 at -20 dB); benchmarks/inference_options.py reports on items 0-99.
    """
    n = max(1, int(window * sr))
    frames = len(target) // n
    if frames == 0:
        return np.zeros(0, dtype=bool)
    t = (target[: frames * n].reshape(frames, n).astype(np.float64) ** 2).mean(1)
    m = (mixture[: frames * n].reshape(frames, n).astype(np.float64) ** 2).mean(1)
    t_db, m_db = 10 * np.log10(t + 1e-12), 10 * np.log10(m + 1e-12)
    return (t_db > t_db.max() + rel_db) & (t_db > m_db + share_db) & (t_db > -80)
