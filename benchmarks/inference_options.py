"""What the inference options buy, measured on the fixed validation set in one run.

    python benchmarks/inference_options.py [--checkpoint FILE] [--limit 100] [--threads 2]

Prints, each next to its baseline from the same run:
  - spans: SDRi with the true activity given as include spans vs. no spans (items whose target is present);
  - span prediction: frame-level precision/recall/F1 of `predict_spans` against the true activity;
  - reranking: SDRi with k = 1, 4 and 8 candidates (k = 1 is the plain separation), and the ceiling: the
    candidate with the best true SDR;
  - presets: SDRi (validation items and 30 s mixtures) and speed (x real time on 60 s) of each preset;
  - chunking: a 3-minute mixture in 20 s chunks vs. one pass (relative difference, seam energy steps).
SDR here is AudioSep's SNR-style SDR; SDRi subtracts the mixture's SDR.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lasso import Separator, activity_to_spans, load_validation_set, make_variants  # noqa: E402
from lasso.metrics import frame_f1, sdri  # noqa: E402
from train.data.corpus import Corpus  # noqa: E402
from train.data.mixtures import MixtureSampler  # noqa: E402

SPAN_WINDOW = 0.1  # s


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint (default: the shipped model)")
    p.add_argument("--reranker", default=None, help="candidate judge for reranking (default: the shipped one)")
    p.add_argument("--val-dir", default="data/val", help="validation set (default: data/val)")
    p.add_argument("--corpus-dir", default="data/corpus",
                   help="corpus whose validation split gives the 30 s mixtures of the presets section")
    p.add_argument("--long-items", type=int, default=30, help="30 s mixtures for the presets section (default: 30)")
    p.add_argument("--limit", type=int, default=100, help="validation items to use (default: 100)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    p.add_argument("--skip", nargs="*", default=[], choices=["spans", "predict", "rerank", "presets", "chunks"],
                   help="sections to skip")
    return p


def true_spans(item) -> list:
    """The item's true per-frame activity as include spans (exact frame times, no smoothing)."""
    hop_s = 128 / item.sample_rate
    return activity_to_spans(item.activity, hop_s, min_gap=0.0, min_len=0.0, pad=0.0,
                             duration=len(item.mixture) / item.sample_rate)


def window_activity(spans, n_windows: int) -> np.ndarray:
    t = (np.arange(n_windows) + 0.5) * SPAN_WINDOW
    return np.array([any(s.start <= x < s.end for s in spans) for x in t], dtype=bool)


def long_mixtures(corpus_dir: str, n: int) -> list:
    """n fixed 30 s mixtures from the corpus's validation split: long enough that the mask windows matter."""
    sampler = MixtureSampler(Corpus.load(Path(corpus_dir)), "val", segment_seconds=30.0, absent_prob=0.0)
    rng = np.random.default_rng(5)
    return [sampler.sample(rng) for _ in range(n)]


def mean_sdri(sep: Separator, items, **opts) -> float:
    return statistics.fmean(sdri(it.target, sep.separate(it.mixture, it.sample_rate, it.prompt, **opts).target,
                                 it.mixture) for it in tqdm(items, leave=False, desc=str(opts)[:40]))


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    sep = Separator.from_pretrained(args.checkpoint, reranker=args.reranker)
    items = [it for it in load_validation_set(args.val_dir)[: args.limit] if not it.absent]
    print(f"{len(items)} validation items with a present target; SDR = AudioSep's SNR-style SDR")

    if "spans" not in args.skip:
        gated = [it for it in items if 0.05 < it.activity.mean() < 0.8]  # targets that are really intermittent
        base = mean_sdri(sep, gated)
        with_spans = statistics.fmean(
            sdri(it.target, sep.separate(it.mixture, it.sample_rate, it.prompt, spans=true_spans(it)).target,
                 it.mixture) for it in gated)
        print(f"spans ({len(gated)} intermittent targets): SDRi {base:.2f} dB without -> {with_spans:.2f} dB with "
              "the true activity as include spans")
    if "predict" not in args.skip:
        f1s, precs, recs = [], [], []
        for it in tqdm(items, leave=False, desc="predict_spans"):
            res = sep.separate(it.mixture, it.sample_rate, it.prompt, predict_spans=True)
            n = int(len(it.mixture) / it.sample_rate / SPAN_WINDOW)
            pred, true = window_activity(res.spans, n), window_activity(true_spans(it), n)
            tp = (pred & true).sum()
            precs.append(tp / max(pred.sum(), 1))
            recs.append(tp / max(true.sum(), 1))
            f1s.append(frame_f1(pred, true))
        print(f"predict_spans: frame F1 {np.mean(f1s):.3f} (precision {np.mean(precs):.3f}, recall "
              f"{np.mean(recs):.3f}; 100 ms frames); SDRi with predicted spans "
              f"{mean_sdri(sep, items, predict_spans=True):.2f} dB")
    if "rerank" not in args.skip:
        for k in (1, 4, 8):
            print(f"reranking k={k}: SDRi {mean_sdri(sep, items, reranking_candidates=k):.2f} dB")
        best = np.array([[sdri(it.target, target, it.mixture) for target, _ in
                          sep.candidates(it.mixture, it.sample_rate, it.prompt,
                                         make_variants(it.prompt, 8, sep.model.cfg.hop))]
                         for it in tqdm(items, leave=False, desc="oracle")])
        print(f"reranking ceiling (the candidate with the best true SDR): SDRi {best[:, :4].max(1).mean():.2f} dB "
              f"with k=4, {best.max(1).mean():.2f} dB with k=8")
    if "presets" not in args.skip:
        long = np.concatenate([it.mixture for it in items])[: 60 * 16000]
        long_items = long_mixtures(args.corpus_dir, args.long_items)
        for preset in ("fast", "balanced", "quality"):
            sep.separate(long[:16000], 16000, "dog", acceleration=preset)
            t0 = time.perf_counter()
            sep.separate(long, 16000, "dog", acceleration=preset)
            speed = len(long) / 16000 / (time.perf_counter() - t0)
            on_long = statistics.fmean(
                sdri(m.target, sep.separate(m.mixture, 16000, m.prompt, acceleration=preset).target, m.mixture)
                for m in tqdm(long_items, leave=False, desc=f"{preset}, 30 s"))
            print(f"preset {preset}: SDRi {mean_sdri(sep, items, acceleration=preset):.2f} dB on the validation "
                  f"items, {on_long:.2f} dB on {len(long_items)} 30 s mixtures; {speed:.0f}x real time on 60 s "
                  f"({args.threads} threads)")
    if "chunks" not in args.skip:
        mix = np.concatenate([it.mixture for it in items])[: 180 * 16000]
        one = sep.separate(mix, 16000, "dog barking", max_chunk_duration=300).target
        chunked = sep.separate(mix, 16000, "dog barking", max_chunk_duration=20, chunk_overlap=5).target
        rel = np.linalg.norm(one - chunked) / np.linalg.norm(one)
        print(f"chunking: 3 min in 20 s chunks vs one pass: relative difference {rel:.4f}")


if __name__ == "__main__":
    main()
