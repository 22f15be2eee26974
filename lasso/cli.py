"""The `lasso` command line: `lasso separate` runs the model; the other commands forward to their entry points.

`lasso train|evaluate|prepare-data ARGS` is the same as `python -m train|evaluate|train.prepare_data ARGS`
(Hydra overrides such as `optim.max_steps=2000`), and `lasso serve|worker|keys|app` the same as
`python -m api.serve|api.worker|api.keys|app`. Those live outside the library (which imports none of them), so they
are started as processes.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from lasso.errors import LassoError

FORWARDED = {
    "train": ("train", "train a model (Hydra overrides, e.g. `lasso train optim.max_steps=2000 run_name=mine`)"),
    "evaluate": ("evaluate", "score a checkpoint on the validation set (`lasso evaluate checkpoint=runs/x/best.pt`)"),
    "prepare-data": ("train.prepare_data", "build the training corpus and the fixed validation set"),
    "serve": ("api.serve", "start the service: API, queue worker, Gradio UI at /ui (`lasso serve --help`)"),
    "worker": ("api.worker", "run a queue worker that shares the work of a running service"),
    "keys": ("api.keys", "create, list and revoke API keys (`lasso keys create --scopes ...`)"),
    "app": ("app", "run the Gradio workbench alone"),
}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lasso", description="AudioLasso: separate any sound by describing it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sep = sub.add_parser("separate", help="separate one file into target and residual",
                         description="Write target.<fmt> and residual.<fmt> (same sample rate and channels as "
                                     "the input) and summary.json into --out-dir.")
    sep.add_argument("input", type=Path, help="audio or video file (wav, flac, ogg, mp3, m4a, opus, mp4, ...)")
    sep.add_argument("--prompt", "-p", required=True, help='what to extract, e.g. "dog barking" or "the piano"')
    sep.add_argument("--out-dir", "-o", type=Path, default=Path("out"), help="output folder (default: out/)")
    sep.add_argument("--format", choices=("wav", "mp3"), default="wav", help="output format (default: wav)")
    sep.add_argument("--checkpoint", default=None, help="checkpoint file (default: the shipped model)")
    sep.add_argument("--chunk", type=float, default=None, help="max chunk duration in seconds (default: 60)")
    sep.add_argument("--overlap", type=float, default=None, help="chunk crossfade in seconds (default: 5)")
    for name, (_, help_text) in FORWARDED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def run_separate(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from lasso.files import separate_file
    from lasso.separator import Separator

    separator = Separator.from_pretrained(args.checkpoint)
    with tqdm(total=100, unit="%", desc="separating", bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as bar:
        def progress(event: dict) -> None:
            bar.n = round(100 * event["fraction"])
            bar.refresh()

        outputs = separate_file(separator, args.input, args.out_dir, args.prompt, output_format=args.format,
                                max_chunk_duration=args.chunk, chunk_overlap=args.overlap, progress=progress)
    summary = outputs.summary()
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in FORWARDED:
        module = FORWARDED[argv[0]][0]
        return subprocess.call([sys.executable, "-m", module, *argv[1:]])
    args = get_parser().parse_args(argv)
    try:
        summary = run_separate(args)
    except LassoError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    for kind, path in summary["outputs"].items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
