"""The real-world benchmark: the shipped model and any other checkpoints on held-out real recordings, in one run.

    python benchmarks/real_world.py [--checkpoint runs/x/step004000.pt ...] [--threads 2]
    python benchmarks/real_world.py --acceleration fast balanced quality --candidates 1 8 --predict-spans
    python benchmarks/real_world.py --checkpoint runs/x/step004000.pt --json out/rw.json --plots out/rw_plots
    python benchmarks/real_world.py --zero-shot --checkpoint runs/x/step004000.pt   # class names never trained on
    python benchmarks/real_world.py --labels dog rain --checkpoint runs/holdout/step006000.pt  # data.holdout_labels
    python benchmarks/real_world.py --candidates 1 8 --judge lasso/weights/lasso-judge.pt --judge runs/judge/judge.pt
    python benchmarks/real_world.py --no-baseline --rows out/v5.json --rows out/rw5.json  # compare saved runs
    python benchmarks/real_world.py --solo --plots out/rw_plots  # does each source alone answer only to its name?
    python benchmarks/real_world.py --dev --no-baseline --checkpoint a.pt --checkpoint b.pt  # choose here, not there

Builds the set once from the corpus's `test` split (`python -m train.prepare_data` makes the corpus) into
data/real_world, then scores the shipped model (the baseline) and each --checkpoint on it: per kind (environmental
pairs at 0 dB, speech over everyday sounds, an instrument over music), SDRi of each source under its own prompt, the
oracle ideal ratio mask and the unprocessed mixture of the same items, and the prompt-swap distance; then SDRi of
one-shot and of continuous targets and of each instrument asked for, and each model's gain over the first one with
a 95 % bootstrap interval over the recordings the items were cut from; with --candidates above 1, how far the
judge's picks are from the best of its candidates. This, not the validation set, decides whether a checkpoint
ships. With --solo, each source is also played alone and asked for by its own name and its partner's (and, for a
kind with at most SOLO_NAMES names, by every one of them: a confusion matrix), which tells a sound the model cannot
find from one it cannot tell apart.

With --dev the same protocol is drawn from the val split's recordings instead (data/real_world_dev): a development
set for choosing between snapshots, means and soups. A choice made on the set that then decides the release
flatters what was chosen (v6 was the best of three means on the benchmark: part of its lead is luck).
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from evaluate.plots import write_confusion_plots, write_real_world_plots  # noqa: E402
from evaluate.real_world import (  # noqa: E402
    SOLO_NAMES,
    by_density,
    by_training_count,
    confusion_names,
    gains_markdown,
    groups_markdown,
    headroom_markdown,
    markdown,
    prompts_markdown,
    score,
    solo_markdown,
    solo_rows,
    summarize,
)
from lasso import BenchmarkItem, Separator, load_real_world, make_variants  # noqa: E402
from train.data.corpus import Corpus  # noqa: E402
from train.data.labels import related_to_any  # noqa: E402
from train.data.real_world import BENCHMARK_SIZES, build_real_world, build_zero_shot  # noqa: E402


def naming(items: list[BenchmarkItem], labels: list[str]) -> list[BenchmarkItem]:
    """The items whose prompts name one of `labels` or a related label: the set a label-holdout run is judged on."""
    return [it for it in items if related_to_any(it.prompt_a, labels) or related_to_any(it.prompt_b, labels)]


def ensure_set(set_dir: str | Path | None, corpus_dir: str | Path, *, dev: int = 0, zero_shot: bool = False,
               rebuild: bool = False, **sizes: int) -> Path:
    """The set to score, drawn once: the benchmark from the test split, the development set from the val split
    (`dev` times the benchmark's items, in a folder of its own per size), or the zero-shot pairs; `sizes` go to
    `build_real_world` (n_env, n_speech, n_music) and override the scaled counts.

    A larger development set is the point of `dev` above 1: 320 items cannot tell a 0.3 dB change on everyday sounds
    or speech from noise, and only the development set may grow, as the benchmark's figures must stay comparable."""
    default = ("data/zero_shot" if zero_shot else "data/real_world" if not dev else
               "data/real_world_dev" if dev == 1 else f"data/real_world_dev_x{dev}")
    set_dir = Path(set_dir or default)
    if rebuild or not (set_dir / "index.csv").exists():
        split = "val" if dev else "test"
        print(f"building the {'development' if dev else 'benchmark'} set from {corpus_dir}'s {split} split into "
              f"{set_dir}")
        corpus = Corpus.load(corpus_dir)
        if zero_shot:
            build_zero_shot(corpus, set_dir)
        else:
            counts = {k: v * max(dev, 1) for k, v in BENCHMARK_SIZES.items()}
            build_real_world(corpus, set_dir, split=split, **(counts | sizes))
    return set_dir


def _scale(text: str) -> int:
    """--dev's SCALE: 0 would silently score the benchmark instead, so only whole numbers from 1 up pass."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"SCALE must be a whole number from 1 up, not {text!r}")
    return int(text)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", action="append", default=[],
                   help="a checkpoint to score beside the shipped model (repeatable); 'debug' for a random tiny one")
    p.add_argument("--no-baseline", action="store_true", help="skip the shipped model (when it is being compared "
                                                               "in another run)")
    p.add_argument("--set-dir", default=None, help="where the benchmark set lives; built if missing (default: "
                                                   "data/real_world, data/zero_shot with --zero-shot, "
                                                   "data/real_world_dev[_xSCALE] with --dev)")
    which_set = p.add_mutually_exclusive_group()
    which_set.add_argument("--zero-shot", action="store_true",
                           help="score the zero-shot diagnostic instead: 0 dB pairs of a sound whose class name "
                                "training never saw (asked for as source a) and a known everyday sound (source b)")
    which_set.add_argument("--dev", nargs="?", type=_scale, const=1, default=0, metavar="SCALE",
                           help="score the development set instead: the benchmark's protocol on the val split's "
                                "recordings (default data/real_world_dev), to choose between checkpoints before the "
                                "benchmark decides (the shipped judge learnt from val-split pairs too, so judge "
                                "reranking is not fair here); --dev 3 draws three times the items "
                                "(data/real_world_dev_x3), to resolve smaller gains")
    p.add_argument("--corpus-dir", default="data/corpus", help="corpus whose test (or, with --dev, val) split the "
                                                                "set is drawn from")
    p.add_argument("--rebuild", action="store_true", help="draw the set again even if it exists")
    p.add_argument("--kinds", nargs="*", default=None, help="score only these kinds (env_pairs speech music)")
    p.add_argument("--labels", nargs="*", default=None,
                   help="score only items naming one of these labels or a related one (e.g. the labels a "
                        "data.holdout_labels run kept out of training)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads; default: 2")
    p.add_argument("--acceleration", nargs="*", default=["balanced"], choices=("fast", "balanced", "quality"),
                   help="presets to score, each a row per model; default: balanced")
    p.add_argument("--candidates", nargs="*", type=int, default=[1],
                   help="reranking_candidates values to score (1-8), each a row per model; default: 1")
    p.add_argument("--judge", action="append", default=[],
                   help="candidate judge file to rerank with when a --candidates value is above 1 (repeatable, each "
                        "a row per model; default: the shipped lasso/weights/lasso-judge.pt)")
    p.add_argument("--predict-spans", action="store_true", help="also score each model with predict_spans=true")
    p.add_argument("--solo", action="store_true",
                   help="also play each source alone and ask for it by its own name, its partner's and, for a kind "
                        f"with at most {SOLO_NAMES} names (music), every one: kept and leaked energy per kind and a "
                        "confusion matrix; takes 2-3 times as long again as the scoring itself")
    p.add_argument("--rows", action="append", default=[],
                   help="a --json file of an earlier run: its models join this run's tables, unscored (repeatable; "
                        "the set and its scoring are deterministic, so runs compare item by item)")
    p.add_argument("--json", default=None, help="also write every row and summary to this JSON file")
    p.add_argument("--plots", default=None, help="also write PNG plots to this folder: SDRi per kind for every "
                                                 "model, and per prompted class for each model and kind")
    return p


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    set_dir = ensure_set(args.set_dir, args.corpus_dir, dev=args.dev, zero_shot=args.zero_shot, rebuild=args.rebuild)
    items = [it for it in load_real_world(set_dir) if args.kinds is None or it.kind in args.kinds]
    if args.labels is not None:
        items = naming(items, args.labels)
        if not items:
            sys.exit(f"no item of {set_dir} names {args.labels} or a related label")
    systems = ([] if args.no_baseline else [("shipped", None)]) + [(c, c) for c in args.checkpoint]
    summaries, rows, solo = {}, {}, {}
    ids = {it.id for it in items}
    recordings = {it.id: {"recording_a": it.recording_a, "recording_b": it.recording_b} for it in items}
    matrix_names = confusion_names(items)
    for path in args.rows:
        saved_run = json.loads(Path(path).read_text())
        for name, saved in saved_run["rows"].items():
            saved_solo = saved_run.get("solo", {}).get(name)
            if name in rows:  # the same checkpoint scored twice (e.g. k = 1 and k = 8): keep both, named by file
                name = f"{name} ({Path(path).name})"
            rows[name] = [{**recordings[r["id"]], **r} for r in saved if r["id"] in ids]  # older runs: no groups
            if not rows[name]:
                sys.exit(f"{path}: {name} scored none of these {len(items)} items (another set, or other --kinds)")
            summaries[name] = summarize(rows[name])
            if saved_solo:
                solo[name] = [r for r in saved_solo if r["id"] in ids]
    judges = args.judge or [None]  # None: the shipped judge; a judge only matters where candidates are reranked
    variants = [({"acceleration": a, "reranking_candidates": k}, j,
                 f"{a}, k={k}" + (f", judge {j}" if len(judges) > 1 and k > 1 else ""))
                for a in args.acceleration for k in args.candidates for j in (judges if k > 1 else [None])]
    if args.predict_spans:
        variants += [({**opts, "predict_spans": True}, j, f"{label}, predicted spans") for opts, j, label in variants]
    hop = 128  # the shipped models' STFT hop; it only names the shifted candidate in the reranking table
    for system, path in systems:
        base = Separator.from_pretrained(path, device="cpu")
        hop = base.model.cfg.hop
        separators = {None: base} | {j: Separator(base.model, base.text_encoder, checkpoint_meta=base.checkpoint_meta,
                                                  reranker=j) for j in args.judge}  # one model, a judge each
        for options, judge, label in variants:
            separator = separators[judge]
            name = system if len(variants) == 1 else f"{system} ({label})"
            start = time.perf_counter()
            rows[name] = score(separator, items, progress=lambda xs, n=name: tqdm(xs, desc=n, unit="item"),
                               **options)
            summaries[name] = summarize(rows[name])
            print(f"{name}: {len(items)} items x 2 prompts in {time.perf_counter() - start:.0f} s")
            if args.solo:
                solo[name] = solo_rows(separator, items, matrix_names, progress=lambda xs, n=name: tqdm(
                    xs, desc=f"{n}, sources alone", unit="item"), **options)
    if not rows:
        sys.exit("nothing to score: give --checkpoint or --rows, or drop --no-baseline")
    print(markdown(summaries))
    if len(rows) > 1:
        base = next(iter(rows))
        unit = "recordings" if all(it.recording_a for it in items) else \
            f"items ({set_dir} predates recording groups: --rebuild it, the same items, for intervals over recordings)"
        print(f"\nGain over {base}, item by item, 95 % interval over {unit}:\n{gains_markdown(rows, base)}")
    print(f"\nSDRi of one-shot and continuous targets:\n{groups_markdown(rows, by_density)}")
    instruments = prompts_markdown(rows, "music")
    if instruments:
        print(f"\nSDRi of each instrument asked for (music):\n{instruments}")
    headroom = headroom_markdown(rows, [v.describe("X") for v in make_variants("X", 8, hop)])
    if headroom:
        print(f"\nReranking: the judge's pick against the best of its candidates (SDRi), and each candidate:\n"
              f"{headroom}")
    if Path(args.corpus_dir, "manifest.csv").exists():
        counts = Counter(c.label for c in Corpus.load(args.corpus_dir).clips("train"))
        print("\nSDRi by how many training clips carry the prompted label:\n"
              f"{groups_markdown(rows, lambda rs: by_training_count(rs, counts))}")
    if solo:
        print(f"\nEach source alone, asked for by its own name and by others' (answer energy / source energy, median):"
              f"\n{solo_markdown(solo, list(matrix_names))}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summaries": summaries, "rows": rows, "solo": solo}, indent=1))
    if args.plots:
        paths = write_real_world_plots(summaries, rows, args.plots)
        paths += write_confusion_plots(solo, list(matrix_names), args.plots)
        print("plots:", *paths, sep="\n  ")


if __name__ == "__main__":
    main()
