"""Reader of the fixed validation set that `train.prepare_data` writes: evaluation needs the mixtures, not the code
that made them, so the reader lives with the metrics and the writer with the training data (`train.data.validation`).

On disk: `index.csv` (columns `INDEX_FIELDS`), and per item `<id>_mix.wav`, `<id>_target.wav`, `<id>_activity.npy`.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["INDEX_FIELDS", "ValItem", "load_validation_set"]

INDEX_FIELDS = ("id", "prompt", "label", "interferer_label", "snr_db", "absent", "activity_hop")


@dataclass
class ValItem:
    """One validation mixture; `snr_db` is nan and `target` silent for absent queries."""

    id: str
    mixture: np.ndarray  # float32 [T]
    target: np.ndarray  # float32 [T]
    sample_rate: int
    prompt: str
    label: str
    interferer_label: str
    snr_db: float
    absent: bool
    activity: np.ndarray  # bool [T // activity_hop]


def load_validation_set(out_dir: str | Path) -> list[ValItem]:
    """Read a set written by `train.data.validation.write_validation_set`, in index order."""
    root = Path(out_dir)
    items = []
    with (root / "index.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            mix, sr = sf.read(root / f"{row['id']}_mix.wav", dtype="float32")
            target, _ = sf.read(root / f"{row['id']}_target.wav", dtype="float32")
            snr = float(row["snr_db"]) if row["snr_db"] not in ("", "nan") else math.nan
            items.append(ValItem(row["id"], mix, target, sr, row["prompt"], row["label"], row["interferer_label"],
                                 snr, bool(int(row["absent"])), np.load(root / f"{row['id']}_activity.npy")))
    return items
