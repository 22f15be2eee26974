"""The two evaluation plots: per-class SDRi (model vs its oracle) and SDRi against the input SNR.

`matplotlib.figure.Figure` is used directly instead of pyplot: no global backend or figure state, so plotting
works headless and inside a long-running process without leaking figures.
"""

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

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
