"""lasso.metrics: each metric on cases whose answer is known in closed form, and the oracle mask on real audio."""

import math

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from lasso.audio import load_audio
from lasso.checkpoint import load_checkpoint
from lasso.metrics import energy_ratio_db, frame_f1, museval_sdr, oracle_irm, sdri, si_sdr, snr_sdr
from train.data.corpus import default_shared_dir

SR = 16000


def _pair(snr_db: float, seconds: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A target and a noise scaled so that their energy ratio is exactly `snr_db`."""
    rng = np.random.default_rng(seed)
    s = (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float64)
    n = rng.standard_normal(len(s))
    n *= np.sqrt((s @ s) / (n @ n) / 10 ** (snr_db / 10))
    return s, n


def test_snr_sdr_of_perfect_estimate_is_huge() -> None:
    s, _ = _pair(0.0)
    assert snr_sdr(s, s) > 50  # bounded only by AudioSep's 1e-8 clip on the error power


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 7.5])
def test_snr_sdr_of_mixture_is_input_snr(snr_db: float) -> None:
    s, n = _pair(snr_db)
    assert snr_sdr(s, s + n) == pytest.approx(snr_db, abs=1e-6)


def test_sdri_of_mixture_is_zero_and_of_better_estimate_positive() -> None:
    s, n = _pair(-5.0)
    mix = s + n
    assert sdri(s, mix, mix) == pytest.approx(0.0, abs=1e-9)
    assert sdri(s, s + 0.1 * n, mix) == pytest.approx(20.0, abs=1e-6)


def test_si_sdr_is_scale_invariant_but_snr_sdr_is_not() -> None:
    s, n = _pair(10.0)
    est = s + n
    base = si_sdr(s, est)
    assert base == pytest.approx(10.0, abs=0.2)  # random noise is nearly orthogonal to the target
    for gain in (0.01, 0.5, 3.0):
        assert si_sdr(s, gain * est) == pytest.approx(base, abs=1e-6)
    assert snr_sdr(s, 0.5 * est) < snr_sdr(s, est) - 3


def test_museval_sdr_matches_snr_on_white_noise_and_is_nan_when_undefined() -> None:
    s, n = _pair(10.0, seconds=3.0)
    # BSS-eval allows a 512-tap distortion filter on the target; white noise barely projects on it.
    assert museval_sdr(s, s + n, SR) == pytest.approx(10.0, abs=1.0)
    assert museval_sdr(s, s + 0.01 * n, SR) > 45
    assert math.isnan(museval_sdr(np.zeros_like(s), s, SR))
    assert math.isnan(museval_sdr(s, np.zeros_like(s), SR))


def test_energy_ratio_db() -> None:
    s, n = _pair(0.0)
    mix = s + n
    assert energy_ratio_db(mix, mix) == pytest.approx(0.0, abs=1e-9)
    assert energy_ratio_db(0.1 * mix, mix) == pytest.approx(-20.0, abs=1e-6)
    assert energy_ratio_db(np.zeros_like(mix), mix) < -80


def _resampled(path: str) -> np.ndarray:
    audio, sr = load_audio(default_shared_dir() / path)
    return AF.resample(torch.from_numpy(audio.mean(0)), sr, SR).numpy()


@pytest.mark.skipif(not (default_shared_dir() / "manifest.csv").exists(), reason="shared data folder not available")
def test_oracle_irm_beats_mixture_on_real_two_source_mixture() -> None:
    speech = _resampled("fsdd/0_george_0.wav")  # a spoken digit, ~0.3 s
    synth = _resampled("berklee/Analogsynth2_high.mp3")[SR // 2 : SR // 2 + len(speech)]
    synth *= np.sqrt((speech @ speech) / (synth @ synth))  # 0 dB
    mix = speech + synth
    model, _ = load_checkpoint("debug")  # the STFT is fixed (512/128 at 16 kHz); the random weights do not matter
    est = oracle_irm(speech, mix, model.stft, model.istft)
    assert est.shape == mix.shape and est.dtype == np.float32
    assert snr_sdr(speech, mix) == pytest.approx(0.0, abs=1e-3)
    assert sdri(speech, est, mix) > 5.0
    assert si_sdr(speech, est) > si_sdr(speech, mix) + 5.0
    # a target equal to the mixture passes untouched: the mask is 1 everywhere
    assert np.allclose(oracle_irm(mix, mix, model.stft, model.istft), mix, atol=1e-5)


@pytest.mark.parametrize(
    ("pred", "true", "expected"),
    [
        ([1, 1, 0, 0], [1, 1, 0, 0], 1.0),
        ([1, 1, 0, 0], [0, 0, 1, 1], 0.0),
        ([0, 0, 0], [0, 0, 0], 1.0),  # nothing predicted for an absent sound: right
        ([1, 1, 0, 0], [1, 0, 0, 0], 2 / 3),  # tp 1, fp 1, fn 0
        ([0, 0, 0, 0], [1, 0, 0, 0], 0.0),
    ],
)
def test_frame_f1(pred: list[int], true: list[int], expected: float) -> None:
    assert frame_f1(np.array(pred, bool), np.array(true, bool)) == pytest.approx(expected)


def test_frame_f1_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="same number of frames"):
        frame_f1(np.ones(3, bool), np.ones(4, bool))
