"""Score a Separator on validation items against two reference systems, and summarise by class and input SNR.

Every item is scored for three systems, so a model number always sits next to its floor and its ceiling:
"mixture" (do nothing: estimate = mixture, SDRi 0 by definition) and "oracle_irm" (the ideal ratio mask on the
model's own STFT, the best a mask model of this resolution can roughly reach). Absent queries (the prompted sound
is not in the mixture) have no SDR; they are scored by how much energy leaks into the target instead.
"""

import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lasso import Separator
from lasso import ValItem as Item
from lasso.metrics import energy_ratio_db, museval_sdr, oracle_irm, sdri, si_sdr, snr_sdr

SYSTEMS = ("model", "mixture", "oracle_irm")
METRICS = ("sdr", "sdri", "si_sdr", "museval_sdr")  # sdr/sdri: AudioSep's SNR-style SDR; museval: BSS-eval v4
SDR_NOTE = ("SDR = AudioSep's 10·log10(|s|²/|s−ŝ|²) (no projection); SDRi = SDR − SDR of the mixture; "
            "SI-SDR = scale-invariant SDR; museval = BSS-eval v4 SDR, median over 1 s frames. "
            "Tables give means over items.")


def estimates(separator: Separator, item: Item) -> tuple[dict[str, np.ndarray], float]:
    """The three systems' target estimates for one item, and the model's separation time in seconds."""
    model = separator.model
    if item.sample_rate != model.cfg.sample_rate:
        raise ValueError(f"item {item.id} is at {item.sample_rate} Hz; the oracle mask needs the model's rate "
                         f"({model.cfg.sample_rate} Hz)")
    start = time.perf_counter()
    est = separator.separate(item.mixture, item.sample_rate, item.prompt).target
    seconds = time.perf_counter() - start
    device = model.window.device  # the model may sit on a GPU; the oracle's inputs are CPU tensors
    oracle = oracle_irm(item.target, item.mixture, lambda w: model.stft(w.to(device)), model.istft)
    return {"model": est, "mixture": item.mixture, "oracle_irm": oracle}, seconds


def score(item: Item, systems: dict[str, np.ndarray], *, museval: bool = True) -> list[dict[str, Any]]:
    """One row per system: SDR metrics for present targets, the energy leak (dB) for absent queries."""
    base = {"id": item.id, "prompt": item.prompt, "label": item.label, "interferer_label": item.interferer_label,
            "snr_db": float(item.snr_db), "absent": bool(item.absent)}
    rows = []
    for system, est in systems.items():
        row: dict[str, Any] = {**base, "system": system, **dict.fromkeys(METRICS), "leak_db": None}
        if item.absent:
            row["leak_db"] = energy_ratio_db(est, item.mixture)
        else:
            row.update(sdr=snr_sdr(item.target, est), sdri=sdri(item.target, est, item.mixture),
                       si_sdr=si_sdr(item.target, est))
            if museval:
                row["museval_sdr"] = museval_sdr(item.target, est, item.sample_rate)
        rows.append(row)
    return rows


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def table(rows: Sequence[dict[str, Any]], keys: Sequence[str] = METRICS) -> dict[str, dict[str, float | None]]:
    """{system: {metric: mean over rows, "n": rows}}; undefined values (nan, None) are left out of the means."""
    out = {}
    for system in SYSTEMS:
        mine = [r for r in rows if r["system"] == system]
        out[system] = {"n": len(mine), **{k: _mean(r[k] for r in mine) for k in keys}}
    return out


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline (all present items, 0 dB subset), per class, per input SNR, and the absent-query leak."""
    present = [r for r in rows if not r["absent"]]
    snrs = sorted({r["snr_db"] for r in present})
    return {
        "all": table(present),
        "snr_0": table([r for r in present if abs(r["snr_db"]) < 1e-6]),
        "by_class": {label: table([r for r in present if r["label"] == label])
                     for label in sorted({r["label"] for r in present})},
        "by_snr": {f"{snr:g}": table([r for r in present if r["snr_db"] == snr]) for snr in snrs},
        "absent": table([r for r in rows if r["absent"]], keys=("leak_db",)),
    }


def evaluate(separator: Separator, items: Sequence[Item], *, museval: bool = True,
             progress: bool = True) -> dict[str, Any]:
    """Score every item for every system: {"rows": per item and system, "summary": `summarize`, "meta": ...}."""
    rows: list[dict[str, Any]] = []
    model_seconds = audio_seconds = 0.0
    for item in tqdm(items, desc="evaluate", unit="item", disable=not progress):
        systems, seconds = estimates(separator, item)
        rows.extend(score(item, systems, museval=museval))
        model_seconds += seconds
        audio_seconds += len(item.mixture) / item.sample_rate
    meta = {
        "items": len(items),
        "absent_items": sum(bool(i.absent) for i in items),
        "museval": museval,
        "audio_seconds": audio_seconds,
        "model_seconds": model_seconds,
        "realtime_factor": audio_seconds / model_seconds if model_seconds else None,  # x real time, per item
        "checkpoint_meta": separator.checkpoint_meta,
        "metrics": SDR_NOTE,
    }
    return {"rows": rows, "summary": summarize(rows), "meta": meta}


def run_evaluation(separator: Separator, items: Sequence[Item], out_dir: str | Path, *, museval: bool = True,
                   progress: bool = True) -> tuple[dict[str, Any], dict[str, Path]]:
    """`evaluate`, then write results.json, report.md and the PNG plots to `out_dir`; returns (result, files)."""
    from evaluate.plots import write_plots  # matplotlib only when files are written
    from evaluate.report import write_report

    result = evaluate(separator, items, museval=museval, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result["summary"], out)
    files = {**write_report(result, out, plots=plots), **plots}
    return result, files
