"""The `lasso` command line: `lasso separate` runs the model; the other commands forward to their entry points.

`lasso train|evaluate|prepare-data ARGS` is the same as `python -m train|evaluate|train.prepare_data ARGS`
(Hydra overrides such as `optim.max_steps=2000`), and `lasso serve|worker|keys|app` the same as
`python -m api.serve|api.worker|api.keys|app`. Those live outside the library (which imports none of them), so the
`lasso` process becomes them (exec).
"""

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from lasso.errors import LassoError, OptionError
from lasso.options import LIMITS, SeparationOptions, Span

FORWARDED = {
    "train": ("train", "train a model (Hydra overrides, e.g. `lasso train optim.max_steps=2000 run_name=mine`)"),
    "evaluate": ("evaluate", "score a checkpoint on the validation set (`lasso evaluate checkpoint=runs/x/best.pt`)"),
    "prepare-data": ("train.prepare_data", "build the training corpus and the fixed validation set"),
    "serve": ("api.serve", "start the service: API, queue worker, Gradio UI at /ui (`lasso serve --help`)"),
    "worker": ("api.worker", "run a queue worker that shares the work of a running service"),
    "keys": ("api.keys", "create, list and revoke API keys (`lasso keys create --scopes ...`)"),
    "app": ("app", "run the Gradio workbench alone"),
}
SPANS_HELP = ("time spans in seconds, comma-separated START-END; prefix + (default) where the sound occurs, "
              "- where it does not: --spans 1.5-3.0,+8-9.5,-12-14 (write --spans=-12-14 when the list starts with "
              "an exclude span)")


def parse_span_list(text: str) -> list[Span]:
    """'1.5-3,+8-9.5,-12-14' -> spans (include unless prefixed with '-')."""
    spans = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        include = not item.startswith("-")
        body = item.lstrip("+-")
        try:
            start, end = (float(v) for v in body.split("-", 1))
        except ValueError as exc:
            raise OptionError(f"bad span {item!r}: write START-END in seconds, e.g. 1.5-3.0 or -12-14",
                              param="spans") from exc
        spans.append(Span(start, end, include))
    return spans


# flag -> (option of lasso.options.LIMITS, help); types, choices, defaults and ranges come from LIMITS
FLAGS = {
    "--format": ("output_format", "output audio format"),
    "--candidates": ("reranking_candidates", "make K candidates and keep the one the candidate judge ranks best"),
    "--acceleration": ("acceleration", "fast: one pass at 16 kHz; balanced: one pass, full bandwidth; "
                                       "quality: 3-pass ensemble"),
    "--chunk": ("max_chunk_duration", "max chunk duration in seconds"),
    "--overlap": ("chunk_overlap", "crossfade between chunks in seconds"),
}


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", "-o", type=Path, default=Path("out"), help="output folder (default: out/)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the shipped model)")
    p.add_argument("--predict-spans", action="store_true", default=LIMITS["predict_spans"].default,
                   help="find where the prompted sound occurs and separate only there (ignored with --spans)")
    for flag, (name, text) in FLAGS.items():
        limit = LIMITS[name]
        if limit.choices:
            p.add_argument(flag, choices=limit.choices, default=limit.default,
                           help=f"{text} (default: {limit.default})")
        else:
            p.add_argument(flag, type=type(limit.default), default=limit.default, dest=flag[2:],
                           metavar="K" if name == "reranking_candidates" else "SECONDS",
                           help=f"{text}: {limit.describe()} (default: {limit.default:g})")


def options_from_args(args: argparse.Namespace, spans: list[Span] | None) -> SeparationOptions:
    """The flags as one checked value: a bad one is an OptionError naming the option."""
    return SeparationOptions(spans=tuple(spans or ()), predict_spans=args.predict_spans,
                             reranking_candidates=args.candidates, acceleration=args.acceleration,
                             max_chunk_duration=args.chunk, chunk_overlap=args.overlap)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lasso", description="AudioLasso: separate any sound by describing it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sep = sub.add_parser("separate", help="separate one file into target and residual",
                         description="Write target.<fmt> and residual.<fmt> (same sample rate and channels as the "
                                     "input; for a video also target_video.<ext> and residual_video.<ext>) and "
                                     "summary.json (spans, candidate scores, timings) into --out-dir.")
    sep.add_argument("input", type=Path, help="audio or video file (wav, flac, ogg, mp3, m4a, opus, mp4, mov, ...)")
    sep.add_argument("--prompt", "-p", required=True, help='what to extract, e.g. "dog barking" or "the piano"')
    sep.add_argument("--spans", default=None, help=SPANS_HELP)
    _add_options(sep)
    batch = sub.add_parser("separate-batch", help="separate many files listed in a CSV with one model load",
                           description="LIST.csv has columns input,prompt and optionally spans (same syntax as "
                                       "--spans). Each row's outputs go to OUT_DIR/<row>_<stem>/; a failing row is "
                                       "reported and the batch goes on. Writes OUT_DIR/batch_summary.json.")
    batch.add_argument("list", type=Path, help="CSV file with a header row: input,prompt[,spans]")
    _add_options(batch)
    for name, (_, help_text) in FORWARDED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _run_one(separator, input_path: Path, prompt: str, spans: list[Span] | None, out_dir: Path,
             args: argparse.Namespace, show_progress: bool) -> dict:
    from tqdm import tqdm

    from lasso.files import separate_file

    with tqdm(total=100, unit="%", desc=input_path.name[:30], disable=not show_progress,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
        def progress(event: dict) -> None:
            bar.n = round(100 * event["fraction"])
            bar.set_description(f"{input_path.name[:24]} {event['stage']}")

        outputs = separate_file(separator, input_path, out_dir, prompt, options_from_args(args, spans),
                                output_format=args.format, progress=progress)
    summary = {"input": str(input_path), **outputs.summary()}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_separate(args: argparse.Namespace) -> int:
    from lasso.separator import Separator

    spans = parse_span_list(args.spans) if args.spans else None
    separator = Separator.from_pretrained(args.checkpoint)
    summary = _run_one(separator, args.input, args.prompt, spans, args.out_dir, args, show_progress=True)
    for kind, path in summary["outputs"].items():
        print(f"{kind}: {path}")
    if summary["spans"]:
        print("spans: " + ", ".join(f"{'+' if s['include'] else '-'}{s['start']:.2f}-{s['end']:.2f}"
                                    for s in summary["spans"]))
    for c in summary["candidates"]:
        print(f"candidate {c['index']}: score {c['score']:+.3f} {'(chosen) ' if c['chosen'] else ''}{c['variant']}")
    return 0


def run_batch(args: argparse.Namespace) -> int:
    from lasso.separator import Separator

    with args.list.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"input", "prompt"} <= set(rows[0]):
        raise OptionError(f"{args.list} needs a header row with at least the columns input,prompt", param="list")
    separator = Separator.from_pretrained(args.checkpoint)
    results, failed = [], 0
    for i, row in enumerate(rows):
        path = Path(row["input"]) if Path(row["input"]).is_absolute() else args.list.parent / row["input"]
        out_dir = args.out_dir / f"{i:04d}_{path.stem}"
        try:
            spans = parse_span_list(row["spans"]) if row.get("spans") else None
            results.append({"row": i, "ok": True, **_run_one(separator, path, row["prompt"], spans, out_dir, args,
                                                             show_progress=True)})
        except LassoError as exc:
            failed += 1
            results.append({"row": i, "ok": False, "input": str(path), "error": exc.code, "message": exc.message})
            print(f"row {i} ({path.name}): error [{exc.code}] {exc.message}", file=sys.stderr)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "batch_summary.json").write_text(json.dumps(results, indent=2))
    print(f"{len(rows) - failed} of {len(rows)} files separated; summary: {args.out_dir / 'batch_summary.json'}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in FORWARDED:
        # exec, not a child: signals (a process manager's SIGTERM, Ctrl-C) reach the command itself
        os.execv(sys.executable, [sys.executable, "-m", FORWARDED[argv[0]][0], *argv[1:]])
    args = get_parser().parse_args(argv)
    try:
        return run_batch(args) if args.command == "separate-batch" else run_separate(args)
    except LassoError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
