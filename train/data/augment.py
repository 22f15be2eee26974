"""What real recordings do to a sound that clean sample packs do not: rooms, microphones, bandwidth, riding faders,
tape and playback speed, lossy codecs.

Applied to each source before mixing, so the target the model learns is the source as the microphone heard it:
the reverberant dog, not the dry one (a user asking for "dog" wants the dog and its room, not a dereverberated
dog). Everything is numpy/scipy on one 4 s segment and costs a few milliseconds, so a data-loader worker keeps up
with a CPU training step. Rooms are synthetic (exponentially decaying noise with a frequency-dependent decay, the
usual statistical model of late reverberation) rather than simulated geometry: pyroomacoustics would add a
compiled dependency for an effect the statistical model captures well enough at 16 kHz. Codec artefacts are applied
per source, not to the mixture, so the sources still sum to the mixture (what a mask model and the both-sides
training need); the target the model learns then carries them, as a user's compressed upload does.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, istft, resample_poly, sosfilt, stft


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities per source and ranges; `AugmentConfig(enabled=False)` leaves every source untouched."""

    enabled: bool = True
    reverb_prob: float = 0.35
    rt60: tuple[float, float] = (0.15, 1.2)  # s
    wet_db: tuple[float, float] = (-12.0, 0.0)  # reverberant part vs the direct sound
    eq_prob: float = 0.4
    eq_db: float = 8.0  # max boost/cut of the tilt and of the band
    bandlimit_prob: float = 0.15
    bandlimit_hz: tuple[float, float] = (2500.0, 7000.0)  # phone, old mic, low-bitrate codec
    ride_prob: float = 0.25
    ride_db: float = 6.0  # peak-to-peak of a slow gain curve
    speed_prob: float = 0.2
    speed: float = 0.06  # max relative change of playback speed (pitch and tempo together; 0.06 ~ one semitone)
    codec_prob: float = 0.15
    codec_floor_db: tuple[float, float] = (25.0, 45.0)  # bins this far below their frame's peak are dropped
    codec_step_db: tuple[float, float] = (1.0, 3.0)  # magnitude quantisation step


def room_impulse(rng: np.random.Generator, sample_rate: int, rt60: float) -> np.ndarray:
    """A synthetic impulse response: direct path plus decaying noise whose highs die faster (air, soft surfaces)."""
    n = int(min(rt60, 1.5) * sample_rate)
    t = np.arange(n) / sample_rate
    noise = rng.standard_normal(n)
    low = sosfilt(butter(2, 1500, "low", fs=sample_rate, output="sos"), noise)
    high = noise - low
    decay = np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail = low * decay + high * decay ** 1.8
    tail[: int(0.002 * sample_rate)] = 0.0  # a short gap before the first reflections
    return tail.astype(np.float32)


def add_reverb(wav: np.ndarray, rng: np.random.Generator, sample_rate: int, cfg: AugmentConfig) -> np.ndarray:
    rt60 = rng.uniform(*cfg.rt60)
    tail = room_impulse(rng, sample_rate, rt60)
    wet = fftconvolve(wav, tail)[: len(wav)]
    gain = 10 ** (rng.uniform(*cfg.wet_db) / 20) * np.sqrt(np.sum(wav ** 2) / (np.sum(wet ** 2) + 1e-12))
    return (wav + gain * wet).astype(np.float32)


def random_eq(wav: np.ndarray, rng: np.random.Generator, sample_rate: int, cfg: AugmentConfig) -> np.ndarray:
    """A spectral tilt plus one boosted or cut band: the colour of a microphone and its placement."""
    split = rng.uniform(300, 3000)
    sos = butter(1, split, "low", fs=sample_rate, output="sos")
    low = sosfilt(sos, wav)
    tilt = 10 ** (rng.uniform(-cfg.eq_db, cfg.eq_db) / 40)
    out = low * tilt + (wav - low) / tilt
    centre = rng.uniform(200, 0.4 * sample_rate)
    band = sosfilt(butter(2, [centre / 1.5, min(centre * 1.5, 0.49 * sample_rate)], "band", fs=sample_rate,
                          output="sos"), out)
    out = out + (10 ** (rng.uniform(-cfg.eq_db, cfg.eq_db) / 20) - 1) * band
    return out.astype(np.float32)


def band_limit(wav: np.ndarray, rng: np.random.Generator, sample_rate: int, cfg: AugmentConfig) -> np.ndarray:
    cutoff = min(rng.uniform(*cfg.bandlimit_hz), 0.45 * sample_rate)
    out = sosfilt(butter(6, cutoff, "low", fs=sample_rate, output="sos"), wav)
    if rng.random() < 0.5:  # telephone-like: the lows go too
        out = sosfilt(butter(2, rng.uniform(100, 300), "high", fs=sample_rate, output="sos"), out)
    return out.astype(np.float32)


def ride_gain(wav: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A slow random gain curve (a few breakpoints, smooth): a source moving, a fader being ridden."""
    points = int(rng.integers(2, 6))
    db = rng.uniform(-cfg.ride_db / 2, cfg.ride_db / 2, points)
    curve = np.interp(np.linspace(0, points - 1, len(wav)), np.arange(points), db)
    return (wav * 10 ** (curve / 20)).astype(np.float32)


def change_speed(wav: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Play the sound slightly faster or slower (a tape, a resampled upload, a different dog of the same breed):
    pitch and tempo move together. The result is cut or zero-padded back to the input's length."""
    down = 50
    up = int(round(down * (1 + rng.uniform(-cfg.speed, cfg.speed))))  # up/down in [0.94, 1.06] by 0.02 steps
    out = resample_poly(wav, up, down)[: len(wav)] if up != down else wav
    return np.pad(out, (0, len(wav) - len(out))).astype(np.float32)


def lossy_codec(wav: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, n_fft: int = 512) -> np.ndarray:
    """What a low-bitrate perceptual codec leaves: bins far below their frame's peak are dropped (holes, "birdies")
    and the rest quantised coarsely in level. The phase is kept, as transform codecs mostly do."""
    _, _, spec = stft(wav, nperseg=n_fft, noverlap=n_fft * 3 // 4)
    mag = np.abs(spec)
    db = 20 * np.log10(mag + 1e-9)
    keep = db > db.max(axis=0, keepdims=True) - rng.uniform(*cfg.codec_floor_db)
    step = rng.uniform(*cfg.codec_step_db)
    quantised = 10 ** ((np.round(db / step + rng.uniform(-0.5, 0.5, db.shape)) * step) / 20)
    _, out = istft(spec * np.where(keep, quantised / (mag + 1e-9), 0.0), nperseg=n_fft, noverlap=n_fft * 3 // 4)
    return np.pad(out[: len(wav)], (0, max(0, len(wav) - len(out)))).astype(np.float32)


def augment_source(wav: np.ndarray, rng: np.random.Generator, sample_rate: int, cfg: AugmentConfig) -> np.ndarray:
    """One source as a real recording might have caught it; silence stays silence and the length never changes."""
    if not cfg.enabled or not np.any(wav):
        return wav
    out = wav
    if rng.random() < cfg.eq_prob:
        out = random_eq(out, rng, sample_rate, cfg)
    if rng.random() < cfg.bandlimit_prob:
        out = band_limit(out, rng, sample_rate, cfg)
    if rng.random() < cfg.reverb_prob:
        out = add_reverb(out, rng, sample_rate, cfg)
    if rng.random() < cfg.ride_prob:
        out = ride_gain(out, rng, cfg)
    if rng.random() < cfg.speed_prob:
        out = change_speed(out, rng, cfg)
    if rng.random() < cfg.codec_prob:
        out = lossy_codec(out, rng, cfg)
    assert out.shape == wav.shape
    return out.astype(np.float32, copy=False)
