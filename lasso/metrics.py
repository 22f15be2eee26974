"""Separation metrics in numpy, each named after the paper convention it reproduces.

Papers' "SDR" are different numbers (AudioSep's plain SNR, museval's BSS-eval v4, bss_eval_sources), so every
function here says which one it is, and scores are only compared with published ones of the same kind. Everything
is numpy in float64: this torch build's batched `torch.linalg.solve` is wrong after `torch.set_num_threads(2)`, so
no metric touches torch linear algebra (the oracle mask uses torch only for the model's own STFT).
"""

import importlib.util
from collections.abc import Callable
from functools import cache
from types import ModuleType

import numpy as np
import torch

__all__ = ["active_frames", "energy_ratio_db", "frame_activity", "frame_f1", "frame_power", "museval_sdr", "oracle_irm",
           "sdri", "si_sdr", "snr_sdr"]

ACTIVITY_REL_DB = -40.0  # a frame is "active" above this level relative to the sound's loudest frame ...
ACTIVITY_ABS_DB = -70.0  # ... and above this absolute level (dBFS)

_AUDIOSEP_EPS = 1e-8  # AudioSep clips both mean powers at 1e-8, which bounds a perfect estimate's score
_EPS = 1e-12


def _f64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def snr_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """AudioSep's "SDR": 10·log10(|s|² / |s − ŝ|²), no projection, so gain errors count as distortion.

    Mean powers are clipped at 1e-8 exactly as AudioSep's `calculate_sdr` does, so our numbers sit on its scale.
    """
    ref, est = _f64(ref), _f64(est)
    num = max(float(np.mean(ref**2)), _AUDIOSEP_EPS)
    den = max(float(np.mean((ref - est) ** 2)), _AUDIOSEP_EPS)
    return float(10 * np.log10(num / den))


def sdri(ref: np.ndarray, est: np.ndarray, mixture: np.ndarray) -> float:
    """SDR improvement over doing nothing (estimate = mixture), the figure text-queried papers report."""
    return snr_sdr(ref, est) - snr_sdr(ref, mixture)


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR (AudioSep's `calculate_sisdr`, no mean removal): the error after the best gain on `ref`,
    so a correct but too quiet/loud estimate is not punished."""
    ref, est = _f64(ref), _f64(est)
    eps = np.finfo(np.float64).eps
    alpha = (eps + ref @ est) / (eps + ref @ ref)
    target = alpha * ref
    return float(10 * np.log10((eps + target @ target) / (eps + (est - target) @ (est - target))))


@cache
def _museval_metrics() -> ModuleType:
    """museval's `metrics` module, loaded from its file.

    `import museval` imports musdb -> stempeg, which raises without ffmpeg and ffprobe on PATH; the metric itself
    is only numpy/scipy, so it is loaded alone and called with exactly the arguments `museval.evaluate` uses.
    """
    spec = importlib.util.find_spec("museval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("museval is not installed")
    path = next(iter(spec.submodule_search_locations)) + "/metrics.py"
    mod_spec = importlib.util.spec_from_file_location("_museval_metrics", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def museval_sdr(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """BSS-eval v4 SDR as museval / SiSEC report it: 1 s windows and hops, median over frames.

    nan when it is undefined: a silent reference or estimate (BSS-eval refuses them), or every frame silent.
    """
    ref, est = _f64(ref), _f64(est)
    if not np.any(ref) or not np.any(est):
        return float("nan")
    sdr, *_ = _museval_metrics().bss_eval(ref[None, :, None], est[None, :, None], compute_permutation=False,
                                         window=int(sr), hop=int(sr), framewise_filters=False,
                                         bsseval_sources_version=False)  # = museval.evaluate(..., mode="v4")
    frames = sdr[0][np.isfinite(sdr[0])]
    return float(np.median(frames)) if frames.size else float("nan")


def energy_ratio_db(est: np.ndarray, mixture: np.ndarray) -> float:
    """10·log10(|ŝ|² / |x|²): for absent queries the energy the model leaks into the target (lower is better)."""
    est, mixture = _f64(est), _f64(mixture)
    return float(10 * np.log10((est @ est + _EPS) / (mixture @ mixture + _EPS)))


def oracle_irm(target: np.ndarray, mixture: np.ndarray, stft: Callable[[torch.Tensor], torch.Tensor],
               istft: Callable[[torch.Tensor, int], torch.Tensor]) -> np.ndarray:
    """Ideal ratio mask |S| / (|S| + |N|) applied to the mixture on the model's own STFT.

    It is the best any magnitude mask in [0, 1] on that STFT can roughly do, so it is the ceiling of our model
    class; pass `model.stft` / `model.istft` so the resolution matches (512/128 at 16 kHz).
    """
    length = len(mixture)
    x = torch.from_numpy(np.asarray(mixture, dtype=np.float32))[None]
    s = torch.from_numpy(np.asarray(target, dtype=np.float32))[None]
    with torch.no_grad():
        spec_x, spec_s = stft(x), stft(s)  # [1, bins, frames]
        mag_s, mag_n = spec_s.abs(), (spec_x - spec_s).abs()  # the STFT is linear: N = X - S
        est = istft(spec_x * (mag_s / (mag_s + mag_n + _EPS)), length)[0]
    out = est.detach().cpu().numpy().astype(np.float32)
    assert out.shape == (length,)
    return out


def frame_power(wav: np.ndarray, hop: int) -> np.ndarray:
    """Mean power of each whole frame of `hop` samples, [len // hop]."""
    n = len(wav) // hop
    return np.mean(wav[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)


def active_frames(power: np.ndarray) -> np.ndarray:
    """Which frames of a `frame_power` curve are active: within 40 dB of the loudest and above -70 dBFS."""
    db = 10 * np.log10(power + 1e-20)
    return (db > db.max() + ACTIVITY_REL_DB) & (db > ACTIVITY_ABS_DB)


def frame_activity(wav: np.ndarray, hop: int) -> np.ndarray:
    """Per-frame activity [len // hop] of one sound: the ground truth of span prediction, the labels span prompts
    are trained on, and what tells a one-shot (active a small share of the time) from a continuous sound."""
    return active_frames(frame_power(wav, hop))


def frame_f1(pred: np.ndarray, true: np.ndarray) -> float:
    """F1 of per-frame "target active" decisions, the score of span prediction.

    Both empty counts as perfect (1.0): predicting no spans for an absent sound is right.
    """
    pred, true = np.asarray(pred, dtype=bool).reshape(-1), np.asarray(true, dtype=bool).reshape(-1)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same number of frames, got {pred.shape} and {true.shape}")
    tp = int(np.sum(pred & true))
    fp, fn = int(np.sum(pred & ~true)), int(np.sum(~pred & true))
    if tp + fp + fn == 0:
        return 1.0
    return 2 * tp / (2 * tp + fp + fn)
