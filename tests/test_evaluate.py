"""evaluate: scoring, summaries and report files with the random debug model, and `python -m evaluate` end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evaluate.evaluate import SYSTEMS, evaluate, run_evaluation, score
from lasso import Separator, ValItem
from tests.conftest import memory_corpus
from train.data.corpus import SHARED_ORIGIN, Corpus
from train.data.validation import write_validation_set

SR = 16000
REPO = Path(__file__).resolve().parents[1]


def _source(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Spectrally distinct test sounds, so the oracle mask has something to separate."""
    t = np.arange(int(seconds * SR)) / SR
    if kind == "tone":
        wav = np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    elif kind == "chirp":
        wav = np.sin(2 * np.pi * (1500 + 800 * t) * t)
    else:  # noise bursts
        wav = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0)
    return (0.3 * wav / np.abs(wav).max()).astype(np.float32)


def _item(i: int, target: str, noise: str, snr_db: float, *, absent: bool = False) -> ValItem:
    rng = np.random.default_rng(i)
    s, n = _source(target, 1.0, rng), _source(noise, 1.0, rng)
    s *= np.sqrt((n @ n) / (s @ s) * 10 ** (snr_db / 10))
    target_wav = np.zeros_like(s) if absent else s
    mixture = (target_wav + n).astype(np.float32)
    return ValItem(f"{i:04d}", mixture, target_wav.astype(np.float32), SR, target, target, noise,
                   float("nan") if absent else snr_db, absent, np.ones(len(s) // 128, bool))


@pytest.fixture(scope="module")
def separator() -> Separator:
    return Separator.from_pretrained("debug", device="cpu")


@pytest.fixture(scope="module")
def items() -> list[ValItem]:
    return [_item(0, "tone", "noise", 0.0), _item(1, "chirp", "tone", 5.0), _item(2, "tone", "chirp", 0.0, absent=True)]


def test_evaluate_writes_reports_and_scores_the_reference_systems(separator, items, tmp_path) -> None:
    result, files = run_evaluation(separator, items, tmp_path, museval=True, progress=False)
    for name in ("results.json", "report.md", "sdri_per_class.png", "sdri_vs_snr.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert set(files) == {"results", "report", "sdri_per_class", "sdri_vs_snr"}

    rows = result["rows"]
    assert len(rows) == len(items) * len(SYSTEMS)
    present = [r for r in rows if not r["absent"]]
    assert all(abs(r["sdri"]) < 1e-6 for r in present if r["system"] == "mixture")
    for r in present:
        assert r["leak_db"] is None and all(np.isfinite(r[k]) for k in ("sdr", "sdri", "si_sdr", "museval_sdr"))
    mix_sdr = {r["id"]: r["sdr"] for r in present if r["system"] == "mixture"}
    assert mix_sdr == pytest.approx({"0000": 0.0, "0001": 5.0}, abs=1e-3)  # the input SNR, by construction
    oracle = {r["id"]: r["sdri"] for r in present if r["system"] == "oracle_irm"}
    assert min(oracle.values()) > 5.0

    summary = result["summary"]
    assert summary["all"]["mixture"]["sdri"] == pytest.approx(0.0, abs=1e-6)
    assert summary["all"]["model"]["n"] == 2 and summary["snr_0"]["model"]["n"] == 1
    assert set(summary["by_class"]) == {"tone", "chirp"} and set(summary["by_snr"]) == {"0", "5"}
    absent = summary["absent"]
    assert absent["model"]["n"] == 1 and absent["mixture"]["leak_db"] == pytest.approx(0.0, abs=1e-9)
    assert absent["oracle_irm"]["leak_db"] < -60  # a silent target gives a zero mask
    assert absent["model"]["leak_db"] < 0.5  # a mask in [0, 1] adds no energy (up to the STFT edges)

    saved = json.loads((tmp_path / "results.json").read_text())  # strict JSON: nan became null
    assert len(saved["rows"]) == len(rows) and saved["rows"][-1]["snr_db"] is None
    report = (tmp_path / "report.md").read_text()
    assert "oracle_irm" in report and "| model | 0 dB | 1 |" in report and "sdri_vs_snr.png" in report


def test_evaluate_without_museval_leaves_it_empty(separator, items) -> None:
    result = evaluate(separator, items[:1], museval=False, progress=False)
    assert all(r["museval_sdr"] is None for r in result["rows"])
    assert result["summary"]["all"]["model"]["museval_sdr"] is None
    assert result["meta"]["items"] == 1 and result["meta"]["realtime_factor"] > 0


def test_evaluate_rejects_items_at_another_rate(separator, items) -> None:
    item = items[0]
    wrong = ValItem(item.id, item.mixture, item.target, 8000, item.prompt, item.label, item.interferer_label,
                    item.snr_db, item.absent, item.activity)
    with pytest.raises(ValueError, match="model's rate"):
        evaluate(separator, [wrong], progress=False)


def _tiny_corpus(root: Path) -> Corpus:
    """Five 1.5 s validation clips with unrelated labels, held in memory like a built corpus."""
    rng = np.random.default_rng(0)
    kinds = {"dog barking": "noise", "church bell": "tone", "rain": "noise", "violin": "chirp", "car horn": "tone"}
    return memory_corpus(root, SR, [(label, "test", _source(kind, 1.5, rng) * (1 + i / 5), "val", SHARED_ORIGIN)
                                    for i, (label, kind) in enumerate(kinds.items())])


def test_python_m_evaluate_end_to_end(tmp_path) -> None:
    val_dir = write_validation_set(_tiny_corpus(tmp_path), tmp_path / "val", n=3, segment_seconds=1.0)
    out_dir = tmp_path / "out"
    cmd = [sys.executable, "-m", "evaluate", "checkpoint=debug", f"val_dir={val_dir}", f"out_dir={out_dir}",
           f"hydra.run.dir={tmp_path / 'hydra'}", "device=cpu", "threads=1", "progress=false"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| oracle_irm | all | 3 |" in proc.stdout
    saved = json.loads((out_dir / "results.json").read_text())
    assert len(saved["rows"]) == 3 * len(SYSTEMS)
    assert saved["summary"]["all"]["mixture"]["sdri"] == pytest.approx(0.0, abs=1e-6)
    assert (out_dir / "sdri_vs_snr.png").exists() and (out_dir / "report.md").exists()


def test_training_validation_reports_what_evaluate_reports(tiny_val_dir):
    """train.train.validate's val/sdri and absent leak are evaluate's per-item metrics on the same estimates."""
    import torch

    from lasso import load_validation_set
    from train.train import validate

    sep = Separator.from_pretrained("debug", device="cpu")
    items = load_validation_set(tiny_val_dir)
    assert any(it.absent for it in items) and not all(it.absent for it in items)
    first = next(it for it in items if not it.absent)  # and a target at -100 dB, where AudioSep's SDR clips powers
    quiet = first.target * 1e-5
    items.append(ValItem("quiet", first.mixture - first.target + quiet, quiet, first.sample_rate, first.prompt,
                         first.label, first.interferer_label, -100.0, False, first.activity))
    got = validate(sep.model, sep.text_encoder, items, "cpu")
    with torch.inference_mode():
        rows = [row for it in items for row in score(it, {"model": sep.model(
            torch.from_numpy(it.mixture)[None], sep.text_encoder.encode([it.prompt]))[0].numpy()}, museval=False)]
    assert got["val/sdri"] == pytest.approx(np.mean([r["sdri"] for r in rows if not r["absent"]]), abs=1e-4)
    assert got["val/absent_leak_db"] == pytest.approx(np.mean([r["leak_db"] for r in rows if r["absent"]]), abs=1e-4)
