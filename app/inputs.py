"""Handlers for the input side: examples, upload/record/video sources, and the spans editor.

The spans editor is a table of [start, end, include] rows (seconds); these handlers keep the overview picture in
step with it, add rows from the quick controls or from clicks on the picture, and turn rows into `Span`s.
Handlers return dicts keyed by output names; `app.app` maps the names to components.
"""

import json
import math
import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from app import plots
from app.runtime import WORK_DIR, load_input, readable_errors
from lasso import LassoError, OptionError, Span

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
TRUE_WORDS = {"true", "1", "yes", "include", "+", "in"}


def examples() -> dict[str, dict[str, Any]]:
    """The built-in example mixtures (examples/examples.json); empty when the folder is not shipped."""
    index = EXAMPLES_DIR / "examples.json"
    if not index.is_file():
        return {}
    return {k: v for k, v in json.loads(index.read_text()).items() if (EXAMPLES_DIR / v["file"]).is_file()}


def example_prompts() -> list[str]:
    return [p for ex in examples().values() for p in ex["prompts"]]


def load_example(name: str) -> dict[str, Any]:
    """Put an example mixture in the audio input and its first prompt in the prompt box.

    The file is copied into the app's work folder: Gradio serves files only from places it trusts, and the
    repository may not be the server's working directory when the API mounts the app.
    """
    ex = examples()[name]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    dst = WORK_DIR / ex["file"]
    if not dst.exists():
        shutil.copyfile(EXAMPLES_DIR / ex["file"], dst)
    return {"audio_in": str(dst), "prompt": ex["prompts"][0]}


def is_blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def parse_include(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def clean_rows(rows: list[list] | None) -> list[list]:
    """Editor rows -> [[start, end, include]] with blank rows dropped (the table shows an empty row when empty)."""
    out = []
    for i, row in enumerate(rows or []):
        row = list(row) + [None] * (3 - len(row))
        if is_blank(row[0]) and is_blank(row[1]):
            continue
        try:
            out.append([float(row[0]), float(row[1]), parse_include(row[2])])
        except (TypeError, ValueError):
            raise OptionError(f"span row {i + 1}: start and end must be numbers of seconds", param="spans") from None
    return out


def rows_to_spans(rows: list[list] | None) -> list[Span]:
    return [Span(a, b, inc) for a, b, inc in clean_rows(rows)]


def _spans_for_picture(rows: list[list] | None) -> list[Span]:
    """Spans to draw while the user is still typing: unparsable or empty rows are left out, not reported."""
    try:
        return [s for s in rows_to_spans(rows) if s.end > s.start]
    except LassoError:
        return []


def overview(source: dict | None, rows: list[list] | None, predicted: list[list] | None = None) -> Any:
    """The input picture, or None when there is no input."""
    if not source:
        return None
    audio, sr = load_input(source["path"])
    return plots.overview_image(audio, sr, _spans_for_picture(rows), [Span(*p) for p in predicted or []])


def describe_source(source: dict) -> str:
    return (f"**{source['name']}** · {source['duration']:.2f} s · {source['sample_rate']} Hz · "
            f"{source['channels']} channel{'s' if source['channels'] > 1 else ''}"
            f"{' · video' if source['kind'] == 'video' else ''}")


def select_source(path: str | None, kind: str, rows: list[list] | None) -> dict[str, Any]:
    """A new input (upload, recording, video or example): decode it, describe it and draw it.

    An unusable file gives a warning and no input, rather than an error later at run time.
    """
    if not path:
        return {"source": None, "overview": None, "input_info": "", "span_end": None}
    try:
        audio, sr = load_input(path)
    except LassoError as exc:
        gr.Warning(exc.message, title="Can't use this file")
        return {"source": None, "overview": None, "input_info": f"⚠️ {exc.message}", "span_end": None}
    source = {"kind": kind, "path": str(path), "name": Path(path).name, "duration": audio.shape[1] / sr,
              "sample_rate": sr, "channels": audio.shape[0]}
    return {"source": source, "overview": overview(source, rows), "input_info": describe_source(source),
            "span_end": round(source["duration"], 2)}


def spans_changed(source: dict | None, rows: list[list] | None, result: dict | None) -> dict[str, Any]:
    """Redraw the picture after an edit; predicted spans stay while the input is the one they were predicted on."""
    same = result and source and result.get("source", {}).get("path") == source["path"]
    return {"overview": overview(source, rows, result.get("predicted") if same else None)}


@readable_errors
def add_span(rows: list[list] | None, start: float | None, end: float | None, kind: str,
             source: dict | None) -> dict[str, Any]:
    """Append a row from the quick controls, checked against the input so mistakes show before a run."""
    if is_blank(start) or is_blank(end):
        raise OptionError("set a start and an end (seconds) for the span, or click twice on the picture",
                          param="spans")
    start, end = float(start), float(end)
    if not 0 <= start < end:
        raise OptionError(f"a span needs 0 <= start < end, got {start:g}..{end:g} s", param="spans")
    if source and start >= source["duration"]:
        raise OptionError(f"the span starts at {start:g} s, after the end of the input ({source['duration']:.2f} s)",
                          param="spans")
    new = sorted([*clean_rows(rows), [round(start, 2), round(end, 2), kind == "include"]])
    return {"spans": new}


def click_time(source: dict | None, start: float | None, end: float | None, x_pixel: float,
               image_width: int) -> dict[str, Any]:
    """Clicks on the picture set the span's start, then its end (the next click starts a new span)."""
    if not source:
        return {"span_start": start, "span_end": end}
    t = plots.x_to_seconds(x_pixel, image_width, source["duration"])
    if is_blank(start) or not is_blank(end):
        return {"span_start": t, "span_end": None}
    return {"span_start": min(start, t), "span_end": max(start, t)}
