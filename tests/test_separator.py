"""Separator invariants on the random debug model: shapes, rates, channels, exact sum, options, errors."""

import numpy as np
import pytest
import soundfile as sf

from lasso import AudioError, OptionError, PromptError, Separator, Span
from lasso.audio import resample
from lasso.checkpoint import load_checkpoint, save_checkpoint
from lasso.inference import apply_mask

SHARED = "../shared/data"


@pytest.fixture(scope="module")
def sep() -> Separator:
    return Separator.from_pretrained("debug")


@pytest.fixture(scope="module")
def piano() -> tuple[np.ndarray, int]:
    audio, sr = sf.read(f"{SHARED}/salamander/{sorted_salamander()[0]}", dtype="float32", always_2d=True)
    return audio.T, sr


def sorted_salamander() -> list[str]:
    import os

    return sorted(f for f in os.listdir(f"{SHARED}/salamander") if f.endswith(".mp3"))


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_output_matches_input_shape_rate_and_sums(sep, sr, channels):
    rng = np.random.default_rng(sr + channels)
    x = (0.1 * rng.standard_normal((channels, int(1.7 * sr)))).astype(np.float32)
    res = sep.separate(x, sr, "dog barking")
    assert res.target.shape == x.shape and res.residual.shape == x.shape
    assert res.sample_rate == sr
    np.testing.assert_allclose(res.target + res.residual, x, atol=1e-6)


def test_mono_vector_in_mono_vector_out(sep):
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    res = sep.separate(x, 16000, "rain")
    assert res.target.shape == (16000,)


def test_stereo_channels_stay_distinct(sep, piano):
    audio, sr = piano
    stereo = np.stack([audio[0], 0.3 * audio[0]])  # a panned source: the image must survive
    res = sep.separate(stereo, sr, "piano")
    ratio = np.linalg.norm(res.target[1]) / (np.linalg.norm(res.target[0]) + 1e-12)
    assert ratio == pytest.approx(0.3, rel=1e-3)


def test_native_rate_mask_with_all_ones_is_identity(sep, piano):
    """The native-rate mask mapping must not colour the signal: a mask of ones reproduces the input."""
    import torch

    audio, sr = piano
    x = torch.from_numpy(audio)
    mask = torch.ones(sep.model.cfg.n_fft // 2 + 1, sep.model.frames(int(x.shape[1] * 16000 / sr)))
    out = apply_mask(sep.model, x, sr, mask, native=True).numpy()
    np.testing.assert_allclose(out, audio, atol=1e-4)


def test_chunked_equals_unchunked_for_identity_blend(sep):
    """With chunks, the crossfade weights sum to one: separating 30 s in 10 s chunks stays close to one pass."""
    x = np.random.default_rng(1).standard_normal(16000 * 30).astype(np.float32) * 0.1
    whole = sep.separate(x, 16000, "wind", max_chunk_duration=60).target
    chunked = sep.separate(x, 16000, "wind", max_chunk_duration=10, chunk_overlap=2).target
    err = np.linalg.norm(whole - chunked) / np.linalg.norm(whole)
    assert err < 0.05


def test_exclude_span_silences_target(sep):
    x = np.random.default_rng(2).standard_normal(16000 * 4).astype(np.float32) * 0.1
    res = sep.separate(x, 16000, "dog", spans=[Span(1.0, 2.0, include=False)])
    assert np.abs(res.target[16000 + 200:32000 - 200]).max() == 0.0
    np.testing.assert_allclose(res.residual[16000 + 200:32000 - 200], x[16000 + 200:32000 - 200])


@pytest.mark.parametrize("spans, message, param", [
    ([{"start": 2.0, "end": 1.0}], "end must be after its start", "spans.0.end"),
    ([{"start": 9.0, "end": 10.0}], "after the end", "spans.0.start"),
    ([{"start": 0.5, "end": 2.0, "include": True}, {"start": 1.0, "end": 3.0, "include": False}], "contradict",
     "spans"),
    ([{"start": "a", "end": 1}], "finite number", "spans.0.start"),
])
def test_bad_spans_are_option_errors(sep, spans, message, param):
    with pytest.raises(OptionError, match=message) as info:
        sep.separate(np.zeros(16000 * 4, np.float32) + 0.01, 16000, "dog", spans=spans)
    assert info.value.param == param


@pytest.mark.parametrize("prompt", ["", "   ", None, "x" * 501])
def test_bad_prompts(sep, prompt):
    with pytest.raises(PromptError):
        sep.separate(np.ones(1600, np.float32) * 0.1, 16000, prompt)


@pytest.mark.parametrize("kwargs, param", [
    ({"acceleration": "turbo"}, "acceleration"),
    ({"reranking_candidates": 9}, "reranking_candidates"),
    ({"max_chunk_duration": 0}, "max_chunk_duration"),
    ({"max_chunk_duration": 301}, "max_chunk_duration"),
    ({"chunk_overlap": 31}, "chunk_overlap"),
])
def test_bad_options(sep, kwargs, param):
    with pytest.raises(OptionError) as info:
        sep.separate(np.ones(1600, np.float32) * 0.1, 16000, "dog", **kwargs)
    assert info.value.param == param


@pytest.mark.parametrize("audio", [np.zeros((2, 0), np.float32), np.full(100, np.nan, np.float32),
                                   np.zeros((1, 2, 3), np.float32)])
def test_bad_audio(sep, audio):
    with pytest.raises(AudioError):
        sep.separate(audio, 16000, "dog")


def test_checkpoint_roundtrip(tmp_path, sep):
    path = save_checkpoint(tmp_path / "m.pt", sep.model, meta={"note": "test"})
    model, blob = load_checkpoint(path)
    assert blob["text_encoder"]["name"] == "minilm" and blob["meta"]["note"] == "test"
    assert blob["model_config"] == sep.model.cfg.to_dict()
    reloaded = Separator.from_pretrained(path)
    x = np.random.default_rng(3).standard_normal(16000).astype(np.float32) * 0.1
    a, b = sep.separate(x, 16000, "dog").target, reloaded.separate(x, 16000, "dog").target
    assert np.abs(a - b).max() < 1e-2 * np.abs(a).max()  # float16 storage


def test_missing_checkpoint_says_what_to_do(tmp_path):
    from lasso import ModelLoadError

    with pytest.raises(ModelLoadError, match="not found"):
        Separator.from_pretrained(tmp_path / "nope.pt")


def test_resample_roundtrip_preserves_tone():
    t = np.arange(44100) / 44100
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    back = resample(resample(tone, 44100, 16000), 16000, 44100).numpy()
    assert np.abs(back[1000:-1000] - tone[1000:-1000]).max() < 0.02
