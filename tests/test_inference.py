"""Inference options behind Separator.separate: candidates, span prediction, presets, chunk seams, streaming."""

import numpy as np
import pytest
import soundfile as sf

from lasso import Separator, Span
from lasso.chunking import OverlapAdd, chunk_bounds
from lasso.inference import predict_activity
from lasso.spans import activity_to_spans


@pytest.fixture(scope="module")
def sep() -> Separator:
    return Separator.from_pretrained("debug", reranker="debug")


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, int]:
    audio, sr = sf.read("examples/piano_and_dog.flac", dtype="float32", always_2d=True)
    return audio.T, sr


def test_candidates_are_distinct_scored_and_one_is_chosen(sep, mixture):
    audio, sr = mixture
    res = sep.separate(audio, sr, "dog barking", reranking_candidates=4)
    assert len(res.candidates) == 4
    assert sum(c["chosen"] for c in res.candidates) == 1
    assert len({c["variant"] for c in res.candidates}) == 4
    targets = [c["target"] for c in res.candidates]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.allclose(targets[i], targets[j])
    chosen = next(c for c in res.candidates if c["chosen"])
    assert chosen["score"] == max(c["score"] for c in res.candidates)
    np.testing.assert_allclose(res.target, chosen["target"], atol=1e-5)  # the result is the chosen candidate
    assert res.settings["variant"] == chosen["variant"]


def test_judge_ranks_a_group_the_same_in_any_order():
    """The judge compares each candidate with its group: reordering the candidates must reorder the scores only."""
    import torch

    from lasso.rerank import load_judge

    judge = load_judge("debug")
    torch.manual_seed(1)
    targets, residuals = torch.randn(5, 16000) * 0.1, torch.randn(5, 16000) * 0.1
    text = torch.nn.functional.normalize(torch.randn(1, 384), dim=-1)
    scores = judge.score(targets, residuals, text)
    order = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(judge.score(targets[order], residuals[order], text), scores[order], atol=1e-5,
                               rtol=1e-4)
    assert scores.std() > 0  # different candidates, different scores


def test_one_candidate_is_plain_separation(sep, mixture):
    audio, sr = mixture
    plain = sep.separate(audio, sr, "piano")
    assert plain.candidates == []
    np.testing.assert_allclose(sep.separate(audio, sr, "piano", reranking_candidates=1).target, plain.target)


@pytest.mark.parametrize("preset", ["fast", "balanced", "quality"])
def test_presets_keep_shape_and_sum(sep, mixture, preset):
    audio, sr = mixture
    res = sep.separate(audio, sr, "piano", acceleration=preset)
    assert res.target.shape == audio.shape
    np.testing.assert_allclose(res.target + res.residual, audio, atol=1e-5)


def test_quality_differs_from_balanced(sep, mixture):
    audio, sr = mixture
    a = sep.separate(audio, sr, "piano", acceleration="balanced").target
    b = sep.separate(audio, sr, "piano", acceleration="quality").target
    assert not np.allclose(a, b)


def test_predicted_spans_are_returned_and_used(sep, mixture):
    audio, sr = mixture
    res = sep.separate(audio, sr, "dog barking", predict_spans=True)
    assert all(isinstance(s, Span) and s.include and 0 <= s.start < s.end <= 8.0 for s in res.spans)
    given = sep.separate(audio, sr, "dog barking", spans=[Span(1, 2)], predict_spans=True)
    assert given.spans == [Span(1.0, 2.0, True)]  # given spans win over prediction


def test_activity_to_spans_merges_and_drops():
    active = np.zeros(100, bool)
    active[10:20] = True
    active[22:30] = True  # gap of 0.2 s: merged
    active[50:51] = True  # 0.1 s blip: dropped
    spans = activity_to_spans(active, 0.1, pad=0.0)
    assert spans == [Span(1.0, 3.0, True)]


def test_predict_activity_finds_a_loud_target():
    sr = 16000
    rng = np.random.default_rng(0)
    mix = 0.05 * rng.standard_normal(sr * 4).astype(np.float32)
    target = np.zeros_like(mix)
    target[sr:2 * sr] = 0.5 * rng.standard_normal(sr)
    act = predict_activity(target, mix + target, sr)
    assert act[10:20].all() and not act[:9].any() and not act[21:].any()


def test_overlap_add_streams_identity_exactly():
    """An identity 'model' must survive chunking and crossfades unchanged."""
    x = np.random.default_rng(1).standard_normal((2, 10_000)).astype(np.float32)
    bounds = chunk_bounds(10_000, 3000, 700)
    ola = OverlapAdd(bounds, 700, 2)
    pieces = [block for i, (s, e) in enumerate(bounds) for _, block in ola.add(i, x[:, s:e])]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), x, atol=1e-6)


def test_streaming_sink_equals_in_memory(sep, mixture):
    audio, sr = mixture
    blocks = []
    res = sep.separate(audio, sr, "piano", max_chunk_duration=3, chunk_overlap=1,
                       sink=lambda start, t, r: blocks.append((start, t, r)))
    assert res.target is None
    streamed = np.concatenate([b[1] for b in blocks], axis=1)
    np.testing.assert_allclose(streamed, sep.separate(audio, sr, "piano", max_chunk_duration=3,
                                                      chunk_overlap=1).target, atol=1e-6)
    assert [b[0] for b in blocks] == sorted(b[0] for b in blocks)


@pytest.mark.parametrize("norm", ["frame", "global"])
def test_frame_norm_makes_the_mask_independent_of_input_length(mixture, norm):
    """A `frame` network's mask for a frame depends only on its receptive field, not on how long the input is,
    so inference may run it in one pass; a `global` one (GroupNorm over time) does depend on it."""
    import torch

    from lasso.config import ModelConfig
    from lasso.models.lasso_net import LassoNet

    torch.manual_seed(0)
    model = LassoNet(ModelConfig(channels=32, hidden=64, blocks=2, dilation_cycle=2, norm=norm)).eval()
    audio, sr = mixture
    mono = torch.from_numpy(audio.mean(0)[: 6 * 16000]).float()
    text = torch.randn(1, model.cfg.text_dim)
    with torch.no_grad():
        long = model.estimate_mask(model.stft(mono[None]).abs(), text)[0]
        short = model.estimate_mask(model.stft(mono[None, : 3 * 16000]).abs(), text)[0]
    head = 200  # frames well inside the short input: beyond the receptive field of its end
    same = torch.allclose(long[:, :head], short[:, :head], atol=1e-5)
    assert same == (norm == "frame")
    assert model.length_independent == (norm == "frame")


@pytest.mark.parametrize("sr", [16000, 44100])
def test_chunks_of_a_frame_network_start_on_its_grid_and_match_one_pass(sep, mixture, sr):
    """Chunk starts land on the network's frame-pairing grid, so a `frame` network's chunked result is one pass's
    result outside the crossfades (a chunk starting off the grid would be analysed on shifted frames)."""
    import torch

    from lasso.audio import resample
    from lasso.chunking import aligned_chunking
    from lasso.config import ModelConfig
    from lasso.inference import chunk_grid
    from lasso.models.lasso_net import LassoNet

    torch.manual_seed(0)
    model = LassoNet(ModelConfig(channels=32, hidden=64, blocks=2, dilation_cycle=2, norm="frame"))
    frame_sep = Separator(model, sep.text_encoder)
    audio, native = mixture
    x = resample(torch.from_numpy(audio.mean(0)), native, sr).numpy()[: 9 * sr]
    grid = chunk_grid(model, sr)
    assert grid * 16000 % (sr * model.cfg.hop * model.cfg.time_stride) == 0
    chunk, overlap = aligned_chunking(int(3.3 * sr), int(0.45 * sr), grid)
    bounds = chunk_bounds(len(x), chunk, overlap)
    assert len(bounds) > 2 and all(start % grid == 0 for start, _ in bounds)
    one = frame_sep.separate(x, sr, "dog barking", max_chunk_duration=30, acceleration="fast").target
    chunked = frame_sep.separate(x, sr, "dog barking", max_chunk_duration=3.3, chunk_overlap=0.45,
                                 acceleration="fast").target
    outside = np.ones(len(x), bool)
    for start, _ in bounds[1:]:
        outside[start - sr // 2: start + overlap + sr // 2] = False  # the crossfade and the network's edge context
    np.testing.assert_allclose(chunked[outside], one[outside], atol=2e-4 * np.abs(one).max())
