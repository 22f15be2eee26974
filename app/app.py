"""The AudioLasso workbench page: layout and event wiring only; the work is in `app.inputs` and `app.handlers`.

`build_demo()` returns the `gr.Blocks`; `python -m app` launches it alone, separating in its own process, and the
API mounts `build_demo(backend=ViaQueue(...))` at /ui, where a run is a queue job of the signed-in key
(app.backends). Handlers return dicts keyed by output names, and
`_adapt` turns them into Gradio's {component: value} form, so a handler may update only some of its outputs.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from app import handlers, history, inputs, plots
from app.backends import InProcess, ViaQueue
from app.runtime import default_checkpoint
from lasso import LIMITS

D = handlers.DEFAULTS
CONTROLS = ["prompt", "acceleration", "candidates", "predict_spans", "chunk", "overlap", "spans"]
RUN_INPUTS = ["source", "prompt", "acceleration", "candidates", "predict_spans", "chunk", "overlap", "spans",
              "history", "api_key"]
CANDIDATE_OUTPUTS = ["cand_group"] + [f"cand_{k}_{i}" for i in range(handlers.MAX_CANDIDATES)
                                      for k in ("row", "label", "audio")]
RESULT_OUTPUTS = ["target", "residual", "dl_target_wav", "dl_target_mp3", "dl_residual_wav", "dl_residual_mp3",
                  "target_video", "residual_video", "videos_row", "comparison", "result", *CANDIDATE_OUTPUTS]
RUN_OUTPUTS = [*RESULT_OUTPUTS, "overview", "timing", "history", "history_table", "history_pick"]


def _adapt(fn: Callable[..., dict[str, Any]], c: dict[str, Any], **bound: Any) -> Callable[..., dict]:
    """Wrap a handler for Gradio: bind keyword values, map its output names to components.

    The wrapper advertises the handler's positional parameters (a `progress` one gets a `gr.Progress()` default,
    which is how Gradio knows to feed a progress bar) so Gradio passes inputs and the progress tracker in order.
    """
    sig = inspect.signature(fn)
    params = [p.replace(default=gr.Progress()) if p.name == "progress" else p for p in sig.parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in bound]
    names = [p.name for p in params]

    @functools.wraps(fn)
    def wrapper(*args: Any) -> dict:
        out = fn(**dict(zip(names, args, strict=False)), **bound)
        return {c[k]: v for k, v in out.items() if k in c}

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def _click_on_overview(source: dict | None, start: float | None, end: float | None, evt: gr.SelectData) -> dict:
    """Gradio passes the clicked pixel as SelectData; the time mapping lives in `inputs.click_time`."""
    return inputs.click_time(source, start, end, evt.index[0], int(plots.WIDTH_IN * plots.DPI))


def _pick_history_row(past: list[dict] | None, evt: gr.SelectData) -> dict:
    return handlers.pick_from_table(past, evt.index[0])


def _input_column(c: dict[str, Any]) -> dict[str, gr.Button]:
    with gr.Tabs():
        with gr.Tab("Audio"):
            c["audio_in"] = gr.Audio(sources=["upload", "microphone"], type="filepath", elem_id="audio-in",
                                     label="Input audio: upload a file or record")
        with gr.Tab("Video"):
            c["video_in"] = gr.Video(sources=["upload"], label="Input video (its sound is separated)",
                                     elem_id="video-in")
    buttons = {}
    with gr.Row():
        for name, ex in inputs.examples().items():
            label = " + ".join(ex["prompts"])
            buttons[name] = gr.Button(f"▶ {label}", size="sm", elem_id=f"example-{name}")
    c["input_info"] = gr.Markdown("Try an example mixture above, or bring your own audio or video.",
                                  elem_id="input-info")
    return buttons


def _prompt_column(c: dict[str, Any]) -> None:
    c["prompt"] = gr.Textbox(label="Prompt: the sound to extract", placeholder='e.g. "dog barking"',
                             elem_id="prompt", max_lines=2)
    prompts = inputs.example_prompts()
    if prompts:
        gr.Examples(examples=[[p] for p in prompts], inputs=[c["prompt"]], label="Example prompts")
    with gr.Accordion("Advanced (API defaults)", open=False, elem_id="advanced"):
        c["acceleration"] = gr.Radio(list(LIMITS["acceleration"].choices), value=D.acceleration, label="Acceleration",
                                     info="fast trades quality for speed; quality the reverse")
        c["candidates"] = gr.Slider(LIMITS["reranking_candidates"].minimum, handlers.MAX_CANDIDATES, step=1,
                                    value=D.reranking_candidates,
                                    label="Reranking candidates", elem_id="candidates",
                                    info="> 1: try several separations, score them, keep the best")
        c["predict_spans"] = gr.Checkbox(value=D.predict_spans, label="Predict spans (where the sound is)",
                                         elem_id="predict-spans")
        with gr.Row():
            chunk, overlap = LIMITS["max_chunk_duration"], LIMITS["chunk_overlap"]
            c["chunk"] = gr.Number(value=D.max_chunk_duration, label="Max chunk (s)", minimum=chunk.minimum,
                                   maximum=chunk.maximum, info=chunk.describe())
            c["overlap"] = gr.Number(value=D.chunk_overlap, label="Chunk overlap (s)", minimum=overlap.minimum,
                                     maximum=overlap.maximum, info=overlap.describe())
    c["run_btn"] = gr.Button("Separate", variant="primary", elem_id="run")


def _spans_panel(c: dict[str, Any]) -> None:
    c["overview"] = gr.Image(label="Input: waveform and spectrogram · green include, red exclude, blue dashed "
                                   "predicted · click twice to set a span's start and end, then Add span",
                             format="png", interactive=False, elem_id="overview", buttons=["fullscreen"])
    with gr.Row(equal_height=False):
        c["span_start"] = gr.Number(label="span start (s)", minimum=0, elem_id="span-start")
        c["span_end"] = gr.Number(label="span end (s)", minimum=0, elem_id="span-end")
        c["span_kind"] = gr.Radio(["include", "exclude"], value="include", label="the sound is…",
                                  elem_id="span-kind")
        with gr.Column(min_width=140):
            c["add_btn"] = gr.Button("Add span", size="sm", elem_id="add-span")
            c["clear_btn"] = gr.Button("Clear spans", size="sm", elem_id="clear-spans")
    c["spans"] = gr.Dataframe(headers=["start (s)", "end (s)", "include"], datatype=["number", "number", "bool"],
                              type="array", column_count=3, interactive=True, label="Spans", elem_id="spans",
                              max_height=200)


def _results_panel(c: dict[str, Any]) -> list[gr.Button]:
    c["timing"] = gr.Markdown(elem_id="timing")
    with gr.Row():
        c["target"] = gr.Audio(label="Target: the sound you described", interactive=False, elem_id="target")
        c["residual"] = gr.Audio(label="Residual: everything else", interactive=False, elem_id="residual")
    with gr.Row():
        for name in ("target", "residual"):
            for fmt in ("wav", "mp3"):
                c[f"dl_{name}_{fmt}"] = gr.DownloadButton(f"⬇ {name}.{fmt}", size="sm", elem_id=f"dl-{name}-{fmt}")
    with gr.Row(visible=False) as c["videos_row"]:
        c["target_video"] = gr.Video(label="Target video", interactive=False)
        c["residual_video"] = gr.Video(label="Residual video", interactive=False)
    c["comparison"] = gr.Image(label="Spectrograms of input, target and residual (same axes and colours)",
                               format="png", interactive=False, elem_id="comparison", buttons=["fullscreen"])
    use_buttons = []
    with gr.Column(visible=False, elem_id="candidates-panel") as c["cand_group"]:
        gr.Markdown("### Candidates\nEach candidate is a separation the reranker scored; ★ is its pick. "
                    "Listen, then use another one as the result.")
        for i in range(handlers.MAX_CANDIDATES):
            with gr.Row(visible=False, equal_height=False, elem_classes=["candidate"]) as c[f"cand_row_{i}"]:
                c[f"cand_label_{i}"] = gr.Markdown(elem_id=f"cand-label-{i}")
                c[f"cand_audio_{i}"] = gr.Audio(show_label=False, interactive=False, elem_id=f"cand-audio-{i}")
                use_buttons.append(gr.Button("Use as result", size="sm", scale=0, min_width=130,
                                             elem_id=f"cand-use-{i}"))
    return use_buttons


def build_demo(checkpoint: str | None = None, *, backend: InProcess | ViaQueue | None = None) -> gr.Blocks:
    """The workbench page. By default it separates in this process with `checkpoint` (default: env
    LASSO_CHECKPOINT, else the shipped model); with a `ViaQueue` backend every run is a job of the API's queue."""
    backend = backend or InProcess(checkpoint or default_checkpoint())
    c: dict[str, Any] = {}
    with gr.Blocks(title="AudioLasso workbench", delete_cache=(3600, 24 * 3600)) as demo:
        c["source"], c["result"], c["history"] = gr.State(None), gr.State(None), gr.State([])
        gr.Markdown("# AudioLasso workbench\nDescribe a sound in words; get it back as **target**, and "
                    "everything else as **residual**.")
        c["api_key"] = gr.Textbox(label="API key (runs are queue jobs charged to it)", type="password",
                                  visible=backend.needs_key, elem_id="api-key")
        if backend.needs_key:
            demo.load(backend.sign_in, None, [c["api_key"]])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                example_buttons = _input_column(c)
            with gr.Column(scale=2):
                _prompt_column(c)
        _spans_panel(c)
        gr.Markdown("## Result")
        use_buttons = _results_panel(c)
        gr.Markdown("## History\nEvery run of this page; click a row (or pick it below) and re-run it.")
        c["history_table"] = gr.Dataframe(headers=history.HEADERS, interactive=False, elem_id="history",
                                          max_height=300)
        with gr.Row(equal_height=False):
            c["history_pick"] = gr.Dropdown(choices=[], label="Run", elem_id="history-pick", scale=4)
            c["rerun_btn"] = gr.Button("Re-run with these settings", elem_id="rerun", scale=1, size="md")
        _wire(c, example_buttons, use_buttons, backend)
    return demo


def _wire(c: dict[str, Any], example_buttons: dict[str, gr.Button], use_buttons: list[gr.Button],
          backend: InProcess | ViaQueue) -> None:
    def comps(names: list[str]) -> list:
        return [c[n] for n in names]

    source_outputs = comps(["source", "overview", "input_info", "span_end"])
    for name, button in example_buttons.items():
        button.click(_adapt(inputs.load_example, c, name=name), None, comps(["audio_in", "prompt"]))
    c["audio_in"].change(_adapt(inputs.select_source, c, kind="audio"), comps(["audio_in", "spans"]), source_outputs)
    c["video_in"].change(_adapt(inputs.select_source, c, kind="video"), comps(["video_in", "spans"]), source_outputs)
    c["spans"].change(_adapt(inputs.spans_changed, c), comps(["source", "spans", "result"]), [c["overview"]],
                      show_progress="hidden")
    c["add_btn"].click(_adapt(inputs.add_span, c), comps(["spans", "span_start", "span_end", "span_kind", "source"]),
                       [c["spans"]])
    c["clear_btn"].click(lambda: [], None, [c["spans"]])
    c["overview"].select(_adapt(_click_on_overview, c), comps(["source", "span_start", "span_end"]),
                         comps(["span_start", "span_end"]))

    run = dict(fn=_adapt(handlers.run, c, backend=backend), inputs=comps(RUN_INPUTS),
               outputs=comps(RUN_OUTPUTS), concurrency_id="separate", concurrency_limit=backend.concurrency)
    c["run_btn"].click(**run)
    c["prompt"].submit(**run)
    for i, button in enumerate(use_buttons):
        button.click(_adapt(handlers.use_candidate, c, index=i), [c["result"]], comps(RESULT_OUTPUTS))
    c["history_table"].select(_adapt(_pick_history_row, c), [c["history"]], [c["history_pick"]])
    c["rerun_btn"].click(_adapt(handlers.rerun, c, backend=backend), comps(["history_pick", "history", "api_key"]),
                         comps(["source", "audio_in", "video_in", *CONTROLS, "input_info", *RUN_OUTPUTS]),
                         concurrency_id="separate", concurrency_limit=backend.concurrency)
