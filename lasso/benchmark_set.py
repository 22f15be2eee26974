"""Reader of the real-world benchmark set that `train.data.real_world.build_real_world` writes from held-out
recordings; like the validation set's reader, it lives with the metrics and the writer with the training data.

On disk: `index.csv` (columns `INDEX_FIELDS`), and per item `<id>_mix.wav`, `<id>_a.wav`, `<id>_b.wav`.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["INDEX_FIELDS", "KINDS", "BenchmarkItem", "load_real_world"]

KINDS = ("env_pairs", "speech", "music")  # environmental pairs at 0 dB, speech over everyday sounds, instrument/music
INDEX_FIELDS = ("id", "kind", "prompt_a", "prompt_b", "snr_db", "recording_a", "recording_b")


@dataclass
class BenchmarkItem:
    """One mixture of source `a` (asked for with `prompt_a`) and source `b`; `mixture == a + b`."""

    id: str
    kind: str
    mixture: np.ndarray  # float32 [T]
    a: np.ndarray  # float32 [T]
    b: np.ndarray  # float32 [T]
    prompt_a: str
    prompt_b: str
    snr_db: float  # a vs b, whole-excerpt energy
    sample_rate: int
    # Recording group of each source (the unit the corpus is split by); items cut from one recording succeed or
    # fail together, so intervals resample recordings. "" in sets written before the groups were recorded.
    recording_a: str = ""
    recording_b: str = ""


def load_real_world(out_dir: str | Path) -> list[BenchmarkItem]:
    """The items written by `build_real_world`, in index order."""
    out_dir = Path(out_dir)
    items = []
    with (out_dir / "index.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            parts = {}
            for part in ("mix", "a", "b"):
                parts[part], sr = sf.read(out_dir / f"{row['id']}_{part}.wav", dtype="float32")
            items.append(BenchmarkItem(row["id"], row["kind"], parts["mix"], parts["a"], parts["b"], row["prompt_a"],
                                       row["prompt_b"], float(row["snr_db"]), sr,
                                       row.get("recording_a", ""), row.get("recording_b", "")))
    return items
