"""Handlers for running a separation, auditioning reranking candidates and re-running from the history.

Each returns a dict keyed by output names (see `app.app.RUN_OUTPUTS`), so the functions can be tested without a
page and the layout can change without touching them. Outputs are written as files (wav for exact audio, mp3 for
sharing, muxed video for video inputs) because players and download buttons serve files.
"""

import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app import history, plots
from app.backends import InProcess, ViaQueue
from app.inputs import clean_rows, describe_source, overview
from app.runtime import load_input, new_run_dir, readable_errors
from lasso import LIMITS, SeparationOptions, Span, mux_video, save_audio

MAX_CANDIDATES = LIMITS["reranking_candidates"].maximum  # the page has a slot for each candidate
DEFAULTS = SeparationOptions()


def _noop_progress(*_: Any, **__: Any) -> None:
    """Stands in for gr.Progress when a handler is called outside a page (tests, scripts)."""


def write_outputs(run_dir: Path, target: np.ndarray, residual: np.ndarray, sr: int, source: dict,
                  tag: str = "") -> dict[str, Any]:
    """Players, downloads and videos for one target/residual pair (`tag` keeps candidates' files apart)."""
    out: dict[str, Any] = {}
    for name, audio in (("target", target), ("residual", residual)):
        wav = save_audio(run_dir / f"{name}{tag}.wav", audio, sr, "wav")
        mp3 = str(save_audio(run_dir / f"{name}{tag}.mp3", audio, sr, "mp3"))
        out |= {name: mp3, f"dl_{name}_wav": str(wav), f"dl_{name}_mp3": mp3}  # players stream the small mp3
        video = None
        if source["kind"] == "video":
            ext = Path(source["path"]).suffix.lower() or ".mp4"
            video = str(mux_video(Path(source["path"]), wav, run_dir / f"{name}{tag}_video{ext}"))
        out[f"{name}_video"] = video
    out["videos_row"] = gr.update(visible=source["kind"] == "video")
    return out


def candidate_slots(result: dict | None) -> dict[str, Any]:
    """Show one slot per candidate: score, variant, the reranker's choice and the one in use marked; hide the rest."""
    cands = (result or {}).get("candidates", [])
    shown = len(cands) > 1
    out: dict[str, Any] = {"cand_group": gr.update(visible=shown)}
    for i in range(MAX_CANDIDATES):
        c = cands[i] if shown and i < len(cands) else None
        out[f"cand_row_{i}"] = gr.update(visible=c is not None)
        if c is None:
            out[f"cand_label_{i}"] = ""
            out[f"cand_audio_{i}"] = None
            continue
        marks = (" · ★ best score" if c["chosen"] else "") + (" · ▶ in use" if i == result["in_use"] else "")
        out[f"cand_label_{i}"] = f"**Candidate {c['index']}** · score **{c['score']:.3f}** · {c['variant']}{marks}"
        out[f"cand_audio_{i}"] = c["target"]
    return out


def _save_candidates(run_dir: Path, candidates: list[dict], sr: int) -> list[dict]:
    """Candidates as JSON-ready dicts with their audio written to files (arrays don't belong in page state)."""
    saved = []
    for i, c in enumerate(candidates):
        tgt = save_audio(run_dir / f"candidate{i}_target.wav", c["target"], sr, "wav")
        res = save_audio(run_dir / f"candidate{i}_residual.wav", c["residual"], sr, "wav")
        saved.append({"index": int(c.get("index", i)), "variant": str(c.get("variant", "")),
                      "score": float(c["score"]), "chosen": bool(c.get("chosen")), "target": str(tgt),
                      "residual": str(res)})
    return saved


def _timing_text(timings: dict[str, float], wall: float, source: dict) -> str:
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if k != "total")
    total = timings.get("total", wall)
    return f"Took **{wall:.2f} s** in all (separation {total:.2f} s: {stages}) · {describe_source(source)}"


@readable_errors
def run(source: dict | None, prompt: str, acceleration: str, candidates: float, predict_spans: bool, chunk: float,
        overlap: float, rows: list[list] | None, past: list[dict] | None, key: str | None = None,
        progress: Any = None, request: gr.Request = None, *, backend: InProcess | ViaQueue) -> dict[str, Any]:
    """Separate the current input with the page's prompt, options and spans; add the run to the history."""
    backend.check_key(key)  # authenticate first: a call without a key learns nothing about the session
    if not source:
        raise gr.Error("add an input first: upload or record audio, upload a video, or click an example",
                       title="No input", print_exception=False)
    progress = progress or _noop_progress
    t0 = time.perf_counter()
    progress(0.0, desc="loading the model" if isinstance(backend, InProcess) else "sending to the queue")
    audio, sr = load_input(source["path"])
    span_rows = clean_rows(rows)
    chosen = SeparationOptions(spans=tuple(Span(a, b, inc) for a, b, inc in span_rows),
                               predict_spans=bool(predict_spans), reranking_candidates=int(candidates),
                               acceleration=acceleration, max_chunk_duration=float(chunk),
                               chunk_overlap=float(overlap))
    options = chosen.settings()

    def on_progress(event: dict) -> None:
        desc = event.get("stage", "separating")
        if event.get("chunks"):
            desc += f" · chunk {event['chunk']}/{event['chunks']}"
        progress(float(event.get("fraction", 0.0)), desc=desc)

    res = backend.separate(source["path"], prompt, chosen, on_progress, key, request)
    progress(1.0, desc="writing the outputs")
    run_dir = new_run_dir()
    cands = _save_candidates(run_dir, res.candidates, sr) if len(res.candidates) > 1 else []
    in_use = next((i for i, c in enumerate(cands) if c["chosen"]), 0)
    given = {(a, b, inc) for a, b, inc in span_rows}
    predicted = [[round(float(s.start), 3), round(float(s.end), 3), bool(s.include)] for s in res.spans
                 if (s.start, s.end, s.include) not in given]
    result = {"run_dir": str(run_dir), "source": source, "sample_rate": sr, "candidates": cands, "in_use": in_use,
              "predicted": predicted if predict_spans else []}
    out = write_outputs(run_dir, res.target, res.residual, sr, source)
    out["comparison"] = plots.comparison_image(audio, res.target, res.residual, sr)
    out["overview"] = overview(source, span_rows, result["predicted"])
    wall = time.perf_counter() - t0
    out["timing"] = _timing_text(res.timings, wall, source) + (f" · request `{res.request_id}`" if res.request_id
                                                               else "")
    score = next((c["score"] for c in res.candidates if c.get("chosen")), None)
    number = max((e["run"] for e in past or []), default=0) + 1
    new_history = history.add_entry(past, history.make_entry(number, source, res.prompt, options, span_rows,
                                                             score, wall))
    out |= {"result": result, "history": new_history, "history_table": history.rows(new_history),
            "history_pick": gr.update(choices=history.choices(new_history), value=number)}
    return out | candidate_slots(result)


@readable_errors
def use_candidate(index: int, result: dict | None) -> dict[str, Any]:
    """Make candidate `index` the result: players, downloads, video and spectrograms all switch to it."""
    if not result or index >= len(result.get("candidates", [])):
        raise gr.Error("there is no such candidate in the last run", title="No candidate", print_exception=False)
    c = result["candidates"][index]
    source, sr = result["source"], result["sample_rate"]
    target, _ = load_input(c["target"])
    residual, _ = load_input(c["residual"])
    audio, _ = load_input(source["path"])
    out = write_outputs(Path(result["run_dir"]), target, residual, sr, source, tag=f"_candidate{index}")
    out["comparison"] = plots.comparison_image(audio, target, residual, sr)
    result = {**result, "in_use": index}
    return out | {"result": result} | candidate_slots(result)


def restore(run_number: int | None, past: list[dict] | None) -> dict[str, Any]:
    """Put a past run's input, prompt, options and spans back in the controls (the page then runs it again)."""
    entry = history.find(past, run_number)
    if entry is None:
        raise gr.Error("pick a run from the history first", title="No run selected", print_exception=False)
    o, src = entry["options"], entry["source"]
    return {"source": src, "audio_in": src["path"] if src["kind"] == "audio" else gr.update(),
            "video_in": src["path"] if src["kind"] == "video" else gr.update(), "prompt": entry["prompt"],
            "acceleration": o["acceleration"],
            "candidates": o["reranking_candidates"], "predict_spans": o["predict_spans"],
            "chunk": o["max_chunk_duration"], "overlap": o["chunk_overlap"], "spans": entry["spans"],
            "input_info": describe_source(src), "overview": overview(src, entry["spans"])}


def rerun(run_number: int | None, past: list[dict] | None, key: str | None = None, progress: Any = None,
          request: gr.Request = None, *, backend: InProcess | ViaQueue) -> dict[str, Any]:
    """Run a past run again exactly as it was, and show its settings in the controls.

    One handler rather than "restore, then run": a chained run would read the controls from the page before
    the restored values have settled there (the spans table updates asynchronously).
    """
    controls = restore(run_number, past)
    e = history.find(past, run_number)
    o = e["options"]
    out = run(e["source"], e["prompt"], o["acceleration"], o["reranking_candidates"], o["predict_spans"],
              o["max_chunk_duration"], o["chunk_overlap"], e["spans"], past, key, progress, request,
              backend=backend)
    return controls | out


def pick_from_table(past: list[dict] | None, row_index: int) -> dict[str, Any]:
    """Clicking a history row selects that run for re-running (rows are shown newest first)."""
    rows = history.rows(past)
    if not 0 <= row_index < len(rows):
        return {"history_pick": gr.update()}
    return {"history_pick": rows[row_index][0]}
