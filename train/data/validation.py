"""A fixed, seeded validation set of 2-source mixtures, written once to disk and reused by every run.

Read it back with `lasso.valset.load_validation_set` (evaluation needs the files, not this code).

Scores are only comparable across runs if every run sees the same mixtures, so the set is written as wav files
with an index and rebuilt only when its parameters or the underlying validation clips change. Prompts are bare
labels ("dog", "rain"), like the ESC-50-style benchmark the model is scored on; 1/3 of the items are at 0 dB,
the subset behind the headline SDRi.
"""

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from lasso.valset import INDEX_FIELDS
from train.data.corpus import SHARED_ORIGIN, Corpus
from train.data.mixtures import MixtureSampler

SNR_CYCLE = (0.0, 0.0, -10.0, -5.0, 5.0, 10.0)
ABSENT_EVERY = 12  # every 12th item is an absent query (~8%)
_SUBTYPE = "PCM_24"  # ~-140 dB quantisation, and unlike FLOAT no timestamped PEAK chunk: reruns are byte-identical
_HERE = Path(__file__).parent
_CODE = ("labels.py", "prompts.py", "mixtures.py", "validation.py")


def _params(corpus: Corpus, n: int, segment_seconds: float, seed: int, activity_hop: int) -> dict:
    clips = corpus.clips("val", origin=SHARED_ORIGIN)
    fingerprint = hashlib.md5("\n".join(f"{c.path},{c.label},{c.length}" for c in clips).encode()).hexdigest()
    # The mixing code decides the content too: any edit to it rebuilds the set (identical output if logic is unchanged).
    code = hashlib.md5(b"".join((_HERE / f).read_bytes() for f in _CODE)).hexdigest()
    return {"n": n, "segment_seconds": segment_seconds, "seed": seed, "activity_hop": activity_hop,
            "sample_rate": corpus.sample_rate, "snr_cycle": list(SNR_CYCLE), "absent_every": ABSENT_EVERY,
            "subtype": _SUBTYPE, "val_clips_md5": fingerprint, "code_md5": code}


def write_validation_set(
    corpus: Corpus,
    out_dir: str | Path,
    *,
    n: int = 300,
    segment_seconds: float = 5.0,
    seed: int = 1234,
    activity_hop: int = 128,
) -> Path:
    """Write `n` fixed mixtures from the val split to `out_dir` and return it; a no-op when already written.

    Only clips from the shared data folder (origin "shared") are used, never extra (Debian) manifests, so adding
    training sources cannot change the set and old scores stay comparable. SNRs cycle through `SNR_CYCLE`.
    """
    out = Path(out_dir)
    params = _params(corpus, n, segment_seconds, seed, activity_hop)
    params_path = out / "params.json"
    if params_path.exists() and json.loads(params_path.read_text()) == params and (out / "index.csv").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    sampler = MixtureSampler(corpus, "val", segment_seconds=segment_seconds, num_sources=(2, 2),
                             activity_hop=activity_hop, origin=SHARED_ORIGIN)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        absent = i % ABSENT_EVERY == ABSENT_EVERY - 1
        m = sampler.sample(rng, snr_db=SNR_CYCLE[i % len(SNR_CYCLE)], absent=absent)
        item_id = f"{i:04d}"
        sf.write(out / f"{item_id}_mix.wav", m.mixture, corpus.sample_rate, subtype=_SUBTYPE)
        sf.write(out / f"{item_id}_target.wav", m.target, corpus.sample_rate, subtype=_SUBTYPE)
        np.save(out / f"{item_id}_activity.npy", m.activity)
        rows.append({"id": item_id, "prompt": m.label, "label": m.label,
                     "interferer_label": "; ".join(m.interferer_labels), "snr_db": m.snr_db,
                     "absent": int(m.absent), "activity_hop": activity_hop})
    with (out / "index.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    params_path.write_text(json.dumps(params, indent=2))
    return out
