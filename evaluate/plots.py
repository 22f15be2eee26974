"""Evaluation plots: per-class SDRi (model vs its oracle) and SDRi against the input SNR on the validation set;
per-kind SDRi of several models, per-prompt SDRi and the solo confusion matrix on the real-world benchmark.

`matplotlib.figure.Figure` is used directly instead of pyplot: no global backend or figure state, so plotting
works headless and inside a long-running process without leaking figures.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from evaluate.real_world import by_prompt, confusion

_COLORS = {"model": "tab:blue", "oracle_irm": "tab:gray"}


def plot_class_sdri(summary: dict[str, Any], path: str | Path) -> Path:
    """Horizontal bars per class, sorted by the oracle's SDRi: the gap to the gray bar is what is left to learn."""
    by_class = summary["by_class"]
    labels = sorted(by_class, key=lambda c: by_class[c]["oracle_irm"]["sdri"] or 0.0)
    y = np.arange(len(labels))
    fig = Figure(figsize=(7, 1.5 + 0.28 * max(len(labels), 1)), layout="constrained")
    ax = fig.subplots()
    for offset, system in ((0.2, "model"), (-0.2, "oracle_irm")):
        values = [by_class[c][system]["sdri"] or 0.0 for c in labels]
        ax.barh(y + offset, values, height=0.4, color=_COLORS[system], label=system)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("SDRi (dB)")
    fig.suptitle("SDRi per prompted class")
    fig.legend(loc="outside lower center", ncols=2)  # outside the axes: never covers a bar
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_sdri_vs_snr(summary: dict[str, Any], path: str | Path) -> Path:
    """SDRi against input SNR: mask models gain most on quiet targets, so one average hides where they fail."""
    snrs = sorted(summary["by_snr"], key=float)
    x = [float(s) for s in snrs]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for system in ("model", "oracle_irm"):
        values = [summary["by_snr"][s][system]["sdri"] for s in snrs]
        ax.plot(x, [np.nan if v is None else v for v in values], marker="o", color=_COLORS[system], label=system)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("input SNR of the target (dB)")
    ax.set_ylabel("SDRi (dB)")
    ax.set_title("SDRi vs input SNR")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110)
    return Path(path)


def write_plots(summary: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Both plots as PNG in `out_dir`; returns {name: path}."""
    out = Path(out_dir)
    return {"sdri_per_class": plot_class_sdri(summary, out / "sdri_per_class.png"),
            "sdri_vs_snr": plot_sdri_vs_snr(summary, out / "sdri_vs_snr.png")}


def plot_real_world_kinds(summaries: dict[str, dict[str, dict[str, float]]], path: str | Path) -> Path:
    """Grouped bars per benchmark kind, one per model plus the oracle: which model to ship, at a glance."""
    systems = list(summaries)
    kinds = list(next(iter(summaries.values())))
    x = np.arange(len(kinds))
    width = 0.8 / (len(systems) + 1)
    fig = Figure(figsize=(2 + 1.6 * len(kinds), 4), layout="constrained")
    ax = fig.subplots()
    for i, name in enumerate(systems):
        ax.bar(x + i * width, [summaries[name].get(k, {}).get("sdri", np.nan) for k in kinds], width, label=name)
    oracle = [summaries[systems[0]][k]["irm_sdri"] for k in kinds]
    ax.bar(x + len(systems) * width, oracle, width, color=_COLORS["oracle_irm"], label="oracle IRM")
    ax.set_xticks(x + 0.4 - width / 2, kinds)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("SDRi (dB)")
    ax.set_title("Real-world benchmark: SDRi per kind")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=min(len(systems) + 1, 3), fontsize=8)
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_real_world_prompts(per_prompt: dict[str, dict[str, float]], path: str | Path, title: str) -> Path:
    """Horizontal bars per prompted class, worst first, with the oracle in gray: the sounds the model cannot find."""
    labels = sorted(per_prompt, key=lambda p: per_prompt[p]["sdri"], reverse=True)
    y = np.arange(len(labels))
    fig = Figure(figsize=(7, 1.5 + 0.22 * max(len(labels), 1)), layout="constrained")
    ax = fig.subplots()
    ax.barh(y - 0.2, [per_prompt[p]["irm_sdri"] for p in labels], height=0.4, color=_COLORS["oracle_irm"],
            label="oracle IRM")
    ax.barh(y + 0.2, [per_prompt[p]["sdri"] for p in labels], height=0.4, color=_COLORS["model"], label="model")
    ax.set_yticks(y, [f"{p} ({per_prompt[p]['sources']})" for p in labels], fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("SDRi (dB)")
    fig.suptitle(title)
    fig.legend(loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=110)
    return Path(path)


def write_real_world_plots(summaries: dict[str, dict[str, dict[str, float]]], rows: dict[str, list[dict[str, Any]]],
                           out_dir: str | Path) -> list[Path]:
    """The per-kind comparison of all models, then a per-prompt chart per model and kind (numbered when several)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_real_world_kinds(summaries, out / "sdri_per_kind.png")]
    for i, (name, summary) in enumerate(summaries.items()):
        tag = f"{i}_" if len(summaries) > 1 else ""
        for kind in summary:
            if kind != "all":
                path = out / f"sdri_per_prompt_{tag}{kind}.png"
                paths.append(plot_real_world_prompts(by_prompt(rows[name], kind), path,
                                                     f"{name}, {kind}: SDRi per prompted class (sources)"))
    return paths


def plot_confusion(rows: list[dict[str, Any]], kind: str, path: str | Path, title: str) -> Path:
    """Heat map of `confusion`: each source alone (rows) asked for by each name (columns). A model that follows the
    prompt is bright on the diagonal and dark elsewhere; a bright column is a name that returns any sound."""
    matrix = confusion(rows, kind)
    sources = list(matrix)
    asked = sorted({a for by in matrix.values() for a in by})
    values = np.array([[matrix[s].get(a, np.nan) for a in asked] for s in sources])
    fig = Figure(figsize=(2.5 + 1.3 * len(asked), 1.8 + 0.5 * len(sources)), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.clip(values, -40, 0), vmin=-40, vmax=0, cmap="viridis")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:+.1f}", ha="center", va="center", color="white" if v < -20 else "black", fontsize=8)
    ax.set_xticks(range(len(asked)), [f"asked '{a}'" for a in asked], rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(sources)), [f"{s} alone" for s in sources], fontsize=8)
    fig.colorbar(image, ax=ax, label="answer energy / source energy (dB, median)")
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110)
    return Path(path)


def write_confusion_plots(solo: dict[str, list[dict[str, Any]]], kinds: Sequence[str], out_dir: str | Path
                          ) -> list[Path]:
    """`plot_confusion` for each system (numbered) and each of `kinds` it answered."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [plot_confusion(rows, kind, out / f"solo_confusion_{i}_{kind}.png",
                           f"{name}: each {kind} source alone, asked for by each name")
            for i, (name, rows) in enumerate(solo.items()) for kind in kinds if any(r["kind"] == kind for r in rows)]
