"""The workbench's handler functions, called as the page calls them, on real audio with the random `debug` model.

Options the library does not offer yet (reranking candidates, predicted spans) are probed first and their tests
skip with the reason, so they start running as soon as the Separator supports them.
"""

import subprocess
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from app import handlers, history, inputs, plots, runtime
from app.backends import InProcess
from app.runtime import get_separator
from lasso import LassoError, Separator
from lasso.audio import ffmpeg_exe, load_audio
from tests.conftest import SHARED_DATA

CKPT = "debug"
DEFAULT_OPTIONS = dict(acceleration="balanced", candidates=1, predict_spans=False, chunk=60.0, overlap=5.0)


def unavailable(**options) -> str | None:
    """Why the Separator refuses `options` today (None when it accepts them)."""
    try:
        get_separator(CKPT).separate(np.zeros((1, 16000), np.float32), 16000, "dog", **options)
    except LassoError as exc:  # OptionError: not implemented; ModelLoadError: e.g. no reranking judge shipped
        return f"the Separator cannot run {options} here yet: [{exc.code}] {exc.message}"
    return None


def give_debug_model_a_judge() -> str | None:
    """Let the debug separator rerank with a random candidate judge (no trained file needed); None when it can.

    A random judge gives meaningless scores, but the page's candidate list, marks and "use as result" only need
    scores to exist. Returns the reason reranking still can't run (then the caller skips).
    """
    runtime._separators[CKPT] = Separator.from_pretrained(CKPT, reranker="debug")
    return unavailable(reranking_candidates=2)


def run(source: dict, prompt: str = "dog barking", rows=None, past=None, **options):
    opts = DEFAULT_OPTIONS | options
    return handlers.run(source, prompt, opts["acceleration"], opts["candidates"], opts["predict_spans"],
                        opts["chunk"], opts["overlap"], rows or [], past or [], backend=InProcess(CKPT))


@pytest.fixture(scope="module")
def example_source() -> dict:
    ex = inputs.load_example("piano_and_dog")
    return inputs.select_source(ex["audio_in"], "audio", [])["source"]


def test_examples_load_with_their_prompts():
    ex = inputs.examples()
    assert set(ex) == {"piano_and_dog", "speech_and_rain", "birds_and_engine"}
    loaded = inputs.load_example("speech_and_rain")
    assert Path(loaded["audio_in"]).is_file() and loaded["prompt"] == "a man speaking"
    assert "rain" in inputs.example_prompts()


def test_select_source_describes_and_draws_real_audio():
    path = SHARED_DATA / "fsdd" / "0_george_0.wav"
    out = inputs.select_source(str(path), "audio", [[0.1, 0.2, True]])
    src = out["source"]
    assert src["sample_rate"] == 8000 and src["channels"] == 1 and 0 < src["duration"] < 2
    assert out["overview"].shape == (340, 1200, 3) and out["span_end"] == round(src["duration"], 2)
    assert "8000 Hz" in out["input_info"]


def test_select_source_warns_on_a_bad_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.warns(UserWarning):
        out = inputs.select_source(str(bad), "audio", [])
    assert out["source"] is None and "⚠️" in out["input_info"]
    assert inputs.select_source(None, "audio", [])["source"] is None


def test_span_rows_are_cleaned_and_checked(example_source):
    assert inputs.clean_rows([["", "", ""], [1, 2, "true"], [3.5, 4, False], [None, None, None]]) == [
        [1.0, 2.0, True], [3.5, 4.0, False]]
    with pytest.raises(LassoError, match="must be numbers"):
        inputs.clean_rows([["a", 2, True]])
    added = inputs.add_span([[1, 2, True]], 4, 5, "exclude", example_source)["spans"]
    assert added == [[1.0, 2.0, True], [4.0, 5.0, False]]
    with pytest.raises(gr.Error, match="after the end"):
        inputs.add_span([], 9, 10, "include", example_source)
    with pytest.raises(gr.Error, match="start < end"):
        inputs.add_span([], 3, 2, "include", example_source)


def test_two_clicks_on_the_picture_make_a_span(example_source):
    width = int(plots.WIDTH_IN * plots.DPI)
    x_at = lambda t: (plots.LEFT + (plots.RIGHT - plots.LEFT) * t / 8.0) * width  # noqa: E731
    first = inputs.click_time(example_source, None, 8.0, x_at(5.0), width)
    assert first == {"span_start": 5.0, "span_end": None}
    second = inputs.click_time(example_source, first["span_start"], None, x_at(2.0), width)
    assert second == {"span_start": 2.0, "span_end": 5.0}
    assert inputs.click_time(example_source, 2.0, 5.0, 0, width)["span_start"] == 0.0  # clamped, new span


def test_run_writes_players_downloads_and_pictures(example_source):
    calls = []
    out = handlers.run(example_source, "dog barking", "fast", 1, False, 3.0, 1.0, [], [],
                       progress=lambda f, desc=None: calls.append((f, desc)), backend=InProcess(CKPT))
    inp, sr = load_audio(example_source["path"])
    tgt, tsr = load_audio(out["dl_target_wav"])
    res, _ = load_audio(out["dl_residual_wav"])
    assert tsr == sr == 44100 and tgt.shape == inp.shape
    np.testing.assert_allclose(tgt + res, inp, atol=1e-5)  # nothing lost: float wav
    assert Path(out["dl_target_mp3"]).stat().st_size > 1000 and out["target"].endswith(".mp3")
    assert out["comparison"].shape == (600, 1200, 3) and out["overview"].shape == (340, 1200, 3)
    assert out["timing"].startswith("Took") and out["target_video"] is None
    assert out["cand_group"]["visible"] is False
    assert any("chunk 3/" in (d or "") for _, d in calls) and calls[-1][0] == 1.0  # 3 s chunks of 8 s
    assert out["history_table"][0][:3] == [1, "piano_and_dog.flac", "dog barking"]


def test_exclude_span_silences_the_target_there(example_source):
    out = run(example_source, rows=[[2.0, 4.0, False]])
    tgt, sr = load_audio(out["dl_target_wav"])
    assert np.abs(tgt[:, int(2.1 * sr):int(3.9 * sr)]).max() < 1e-6
    assert out["history"][-1]["spans"] == [[2.0, 4.0, False]]


@pytest.mark.parametrize(("prompt", "rows", "message"), [
    ("   ", [], "prompt is empty"),
    ("dog", [[9.0, 10.0, True]], "after the end of the audio"),
    ("dog", [[1.0, 3.0, True], [2.0, 4.0, False]], "contradict"),
])
def test_bad_requests_give_readable_errors(example_source, prompt, rows, message):
    with pytest.raises(gr.Error, match=message) as err:
        run(example_source, prompt=prompt, rows=rows)
    assert "Traceback" not in err.value.message and err.value.title in ("Check the prompt", "Check the options")


def test_run_without_input_asks_for_one():
    with pytest.raises(gr.Error, match="add an input first"):
        run(None)


def test_history_restores_a_run(example_source):
    first = run(example_source, prompt="piano")
    second = run(example_source, prompt="dog barking", rows=[[1.0, 2.0, True]], past=first["history"])
    past = second["history"]
    assert [e["run"] for e in past] == [1, 2] and [r[0] for r in second["history_table"]] == [2, 1]
    restored = handlers.restore(1, past)
    assert restored["prompt"] == "piano" and restored["spans"] == [] and restored["candidates"] == 1
    assert restored["audio_in"] == example_source["path"]
    assert handlers.pick_from_table(past, 1) == {"history_pick": 1}  # row 1 is the older run
    assert "2 candidates" in history.describe_options({"reranking_candidates": 2})
    with pytest.raises(gr.Error):
        handlers.restore(99, past)
    again = handlers.rerun(1, past, backend=InProcess(CKPT))
    assert again["prompt"] == "piano" and again["history"][-1]["run"] == 3
    assert again["history"][-1]["prompt"] == "piano" and again["history"][-1]["spans"] == []


def test_video_input_gives_muxed_videos(tmp_path):
    video = tmp_path / "clip.mp4"
    audio = Path(inputs.EXAMPLES_DIR) / "birds_and_engine.flac"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=blue:s=64x48:d=3", "-i", str(audio),
                    "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)],
                   check=True)
    source = inputs.select_source(str(video), "video", [])["source"]
    assert source["kind"] == "video" and 2.5 < source["duration"] < 3.5
    out = run(source, prompt="bird singing")
    assert Path(out["target_video"]).is_file() and Path(out["residual_video"]).is_file()
    assert out["videos_row"]["visible"] is True


def test_candidates_are_listed_and_one_can_be_used(example_source):
    reason = give_debug_model_a_judge()
    if reason:
        pytest.skip(reason)
    out = run(example_source, candidates=3)
    cands = out["result"]["candidates"]
    assert len(cands) == 3 and sum(c["chosen"] for c in cands) == 1
    assert out["cand_group"]["visible"] is True
    shown = [i for i in range(handlers.MAX_CANDIDATES) if out[f"cand_row_{i}"]["visible"]]
    assert shown == [0, 1, 2] and all("score" in out[f"cand_label_{i}"] for i in shown)
    assert "★" in out[f"cand_label_{out['result']['in_use']}"] and out["history"][-1]["score"] is not None
    other = next(i for i, c in enumerate(cands) if not c["chosen"])
    picked = handlers.use_candidate(other, out["result"])
    assert picked["result"]["in_use"] == other and "▶ in use" in picked[f"cand_label_{other}"]
    chosen, _ = load_audio(picked["dl_target_wav"])
    expected, _ = load_audio(cands[other]["target"])
    np.testing.assert_allclose(chosen, expected, atol=1e-6)


def test_predicted_spans_are_drawn(example_source):
    reason = unavailable(predict_spans=True)
    if reason:
        pytest.skip(reason)
    out = run(example_source, predict_spans=True)
    for start, end, include in out["result"]["predicted"]:
        assert 0 <= start < end and isinstance(include, bool)
    assert out["overview"].shape == (340, 1200, 3)


def test_page_builds_and_mounts_under_fastapi():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.app import build_demo

    api = gr.mount_gradio_app(FastAPI(), build_demo(CKPT), path="/ui")
    with TestClient(api) as client:
        page = client.get("/ui/")
        assert page.status_code == 200 and "AudioLasso workbench" in page.text


def test_main_parser_defaults():
    from app.__main__ import get_parser

    args = get_parser().parse_args(["--port", "7999", "--checkpoint", "debug"])
    assert (args.host, args.port, args.checkpoint) == ("127.0.0.1", 7999, "debug")
