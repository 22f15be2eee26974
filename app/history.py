"""The page's run history: what each run used (input, prompt, options, spans) and how it scored.

Entries are plain JSON-ready dicts kept in a per-session `gr.State`, so comparing prompt A with prompt B needs no
server-side store, and any entry holds everything needed to restore its controls and run it again.
"""

from typing import Any

from lasso import SeparationOptions

MAX_ENTRIES = 50  # oldest runs drop off; a page is a scratchpad, not an archive
HEADERS = ["run", "input", "prompt", "options", "spans", "score", "seconds"]


def make_entry(run: int, source: dict[str, Any], prompt: str, options: dict[str, Any], spans: list[list],
               score: float | None, seconds: float) -> dict[str, Any]:
    """One history row; `options` holds the Separator options and `spans` the editor's rows."""
    return {"run": run, "source": dict(source), "prompt": prompt, "options": dict(options),
            "spans": [list(r) for r in spans], "score": score, "seconds": round(seconds, 2)}


def add_entry(history: list[dict] | None, entry: dict[str, Any]) -> list[dict]:
    """A new list (States are compared by value, so never mutate the old one in place)."""
    return ([*(history or []), entry])[-MAX_ENTRIES:]


def describe_options(options: dict[str, Any]) -> str:
    o = {**SeparationOptions().settings(), **options}
    parts = [o["acceleration"]]
    if o["reranking_candidates"] > 1:
        parts.append(f"{o['reranking_candidates']} candidates")
    if o["predict_spans"]:
        parts.append("predict spans")
    parts.append(f"chunk {o['max_chunk_duration']:g}/{o['chunk_overlap']:g} s")
    return ", ".join(parts)


def describe_spans(spans: list[list]) -> str:
    return " ".join(f"{'+' if inc else '-'}{a:g}-{b:g}" for a, b, inc in spans) or "—"


def rows(history: list[dict] | None) -> list[list]:
    """Table rows, newest first (the run you just did is the one you look at)."""
    out = []
    for e in reversed(history or []):
        score = "—" if e["score"] is None else f"{e['score']:.3f}"
        out.append([e["run"], e["source"].get("name", ""), e["prompt"], describe_options(e["options"]),
                    describe_spans(e["spans"]), score, e["seconds"]])
    return out


def choices(history: list[dict] | None) -> list[tuple[str, int]]:
    """Dropdown (label, run number) pairs, newest first."""
    return [(f"#{e['run']} · {e['prompt']} · {describe_options(e['options'])}", e["run"])
            for e in reversed(history or [])]


def find(history: list[dict] | None, run: int | None) -> dict[str, Any] | None:
    return next((e for e in history or [] if e["run"] == run), None)
