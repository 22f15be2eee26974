"""results.json (every row, for later analysis) and report.md (the tables a person reads) from one evaluation."""

import json
import math
from pathlib import Path
from typing import Any

from evaluate.evaluate import SYSTEMS

_HEADLINE = (("sdr", "SDR"), ("sdri", "SDRi"), ("si_sdr", "SI-SDR"), ("museval_sdr", "museval SDR"))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _finite(obj: Any) -> Any:
    """nan/inf -> None, so results.json is strict JSON that any reader (not only Python's) can load."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def headline_markdown(summary: dict[str, Any]) -> str:
    """Model, mixture and oracle IRM over all items with the target present and over the 0 dB subset (dB)."""
    rows = []
    for subset, name in (("all", "all"), ("snr_0", "0 dB")):
        for system in SYSTEMS:
            s = summary[subset][system]
            rows.append([system, name, str(s["n"]), *(_fmt(s[k]) for k, _ in _HEADLINE)])
    return _markdown(["system", "items", "n", *(title for _, title in _HEADLINE)], rows)


def class_markdown(summary: dict[str, Any]) -> str:
    """Per prompted class: where the model is far below its oracle is where more data or capacity is needed."""
    rows = []
    for label, t in sorted(summary["by_class"].items(), key=lambda kv: -(kv[1]["model"]["sdri"] or -math.inf)):
        rows.append([label, str(t["model"]["n"]), _fmt(t["mixture"]["sdr"]), _fmt(t["model"]["sdri"]),
                     _fmt(t["oracle_irm"]["sdri"]), _fmt(t["model"]["si_sdr"])])
    return _markdown(["class", "n", "input SDR", "model SDRi", "oracle SDRi", "model SI-SDR"], rows)


def snr_markdown(summary: dict[str, Any]) -> str:
    rows = [[snr, str(t["model"]["n"]), _fmt(t["model"]["sdri"]), _fmt(t["oracle_irm"]["sdri"]),
             _fmt(t["model"]["si_sdr"]), _fmt(t["oracle_irm"]["si_sdr"])]
            for snr, t in sorted(summary["by_snr"].items(), key=lambda kv: float(kv[0]))]
    return _markdown(["input SNR (dB)", "n", "model SDRi", "oracle SDRi", "model SI-SDR", "oracle SI-SDR"], rows)


def absent_markdown(summary: dict[str, Any]) -> str:
    rows = [[system, str(summary["absent"][system]["n"]), _fmt(summary["absent"][system]["leak_db"])]
            for system in SYSTEMS]
    return _markdown(["system", "n", "leak (dB)"], rows)


def write_report(result: dict[str, Any], out_dir: str | Path, *,
                 plots: dict[str, Path] | None = None) -> dict[str, Path]:
    """Write results.json and report.md into `out_dir`; returns {"results": path, "report": path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results_path.write_text(json.dumps(_finite(result), indent=1, default=str, allow_nan=False))
    summary, meta = result["summary"], result["meta"]
    speed = meta.get("realtime_factor")
    sections = [
        "# AudioLasso evaluation",
        f"{meta['items']} items ({meta['absent_items']} absent queries). {meta['metrics']}"
        + (f" Model speed: {speed:.1f}× real time (per item, this machine)." if speed else ""),
        "## Headline (dB)",
        headline_markdown(summary),
        "## Per class (target present, dB)",
        class_markdown(summary),
        "## Per input SNR (dB)",
        snr_markdown(summary),
        "## Absent queries: energy leaked into the target",
        "10·log10(|ŝ|²/|mixture|²); lower is better (the mixture system leaks everything, 0 dB).",
        absent_markdown(summary),
    ]
    sections += [f"![{name}]({path.name})" for name, path in (plots or {}).items()]
    report_path = out / "report.md"
    report_path.write_text("\n\n".join(sections) + "\n")
    return {"results": results_path, "report": report_path}
