"""Quality and speed of one checkpoint in one run: the two numbers the product is judged on, side by side.

    python benchmarks/quality_speed.py [--checkpoint path.pt] [--limit 60] [--threads 2]

Quality is `evaluate.evaluate` on the fixed validation set (SDRi and SI-SDR for the model, the unprocessed mixture
and the oracle ideal ratio mask, over all items and the 0 dB subset). Speed is `Separator.separate` at `balanced`
on a real 60 s mixture (validation mixtures end to end) on N CPU threads, as a multiple of real time, at 16 kHz
mono, 32 kHz mono and 44.1 kHz stereo; with --checkpoint the shipped model is timed in the same run as the baseline.
"""

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

from evaluate.evaluate import SYSTEMS, evaluate  # noqa: E402
from lasso import Separator, load_validation_set  # noqa: E402


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file to score, or 'debug' for a random tiny model; default: the shipped "
                        "lasso/weights/lasso-default.pt")
    p.add_argument("--val-dir", default="data/val",
                   help="validation set (index.csv + wavs) from `python -m train.prepare_data`; default: data/val")
    p.add_argument("--limit", type=int, default=None,
                   help="score only the first N validation items (default: all); speed is measured regardless")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="length in seconds of the real mixture timed for speed; default: 60")
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads for the whole run, quality and speed; default: 2")
    p.add_argument("--speed-only", action="store_true", help="skip the quality part")
    return p


def long_mixture(items: list, seconds: float) -> tuple[np.ndarray, int, str]:
    """Validation mixtures end to end (repeated if needed) up to `seconds`: real audio with real content changes."""
    present = [i for i in items if not i.absent] or items
    sr = present[0].sample_rate
    need = int(seconds * sr)
    reps = need // sum(len(i.mixture) for i in present) + 1
    audio = np.concatenate([i.mixture for i in present] * reps)[:need]
    return audio, sr, present[0].prompt


def time_separation(separator: Separator, audio: np.ndarray, sr: int, prompt: str, runs: int = 3) -> float:
    """Median wall-clock seconds of `runs` separations after one warm-up (first-call allocations, text cache)."""
    separator.separate(audio, sr, prompt)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        separator.separate(audio, sr, prompt)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


FORMATS = ((16000, 1), (32000, 1), (44100, 2))  # (rate, channels) timed: the model's rate, and what users send


def as_format(audio: np.ndarray, sr: int, rate: int, channels: int) -> np.ndarray:
    """The mixture resampled to `rate`; a second channel is the first delayed by 7 ms (a real stereo image)."""
    g = math.gcd(sr, rate)
    mono = resample_poly(audio, rate // g, sr // g).astype(np.float32)
    if channels == 1:
        return mono
    delay = int(0.007 * rate)
    return np.stack([mono, np.concatenate([np.zeros(delay, np.float32), mono[:-delay]])])


def speed_table(checkpoints: list[str | None], audio: np.ndarray, sr: int, prompt: str, threads: int) -> None:
    print(f"speed at balanced, {len(audio) / sr:.0f} s of audio, median of 3, {threads} threads (x real time):")
    print(f"{'checkpoint':<40}" + "".join(f"{f'{r} Hz x{c}':>16}" for r, c in FORMATS))
    for path in checkpoints:
        separator = Separator.from_pretrained(path, device="cpu")
        speeds = [len(audio) / sr / time_separation(separator, as_format(audio, sr, r, c), r, prompt)
                  for r, c in FORMATS]
        print(f"{path or 'shipped default':<40}" + "".join(f"{v:16.1f}" for v in speeds))


def _fmt(v: float | None) -> str:
    return f"{v:10.2f}" if v is not None else f"{'–':>10}"


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    items = load_validation_set(args.val_dir)
    audio, sr, prompt = long_mixture(items, args.seconds)
    speed_table([None, args.checkpoint] if args.checkpoint else [None], audio, sr, prompt, args.threads)
    if args.speed_only:
        return
    separator = Separator.from_pretrained(args.checkpoint, device="cpu")
    scored = items[: args.limit] if args.limit else items
    summary = evaluate(separator, scored, museval=False, progress=True)["summary"]


    present = summary["all"]["model"]["n"]
    print(f"\ncheckpoint: {args.checkpoint or 'shipped default'}   val: {args.val_dir}   "
          f"items: {present} with target (+{summary['absent']['model']['n']} absent)   "
          f"0 dB: {summary['snr_0']['model']['n']}")
    print(f"{'system':<11} {'SDRi':>10} {'SDRi 0dB':>10} {'SI-SDR':>10} {'SI-SDR 0dB':>10}   (dB; AudioSep-style SDR)")
    for system in SYSTEMS:
        a, z = summary["all"][system], summary["snr_0"][system]
        print(f"{system:<11} {_fmt(a['sdri'])} {_fmt(z['sdri'])} {_fmt(a['si_sdr'])} {_fmt(z['si_sdr'])}")
    leak = summary["absent"]["model"]["leak_db"]
    if leak is not None:
        print(f"absent-query leak (model): {leak:.2f} dB (lower is better)")


if __name__ == "__main__":
    main()
