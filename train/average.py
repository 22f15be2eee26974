"""Average the weights of a run's snapshots: `python -m train.average runs/x/step005000.pt ... --out avg.pt`.

Why: late snapshots of one run sit around the same basin while the learning rate decays; their mean usually
generalises better than any one of them (stochastic weight averaging), for no extra training. Whether it does for a
given run is for the real-world benchmark to say (`benchmarks/real_world.py --checkpoint avg.pt`).
"""

import argparse
from pathlib import Path

import torch

from lasso import load_checkpoint, save_checkpoint


def average(paths: list[str | Path], out: str | Path) -> Path:
    """Mean of the snapshots' weights in one checkpoint; they must share one model config."""
    models = [load_checkpoint(p) for p in paths]
    first, blob = models[0]
    for _, other in models[1:]:
        if other["model_config"] != blob["model_config"]:
            raise SystemExit(f"snapshots differ in model config: {paths[0]} and another; average one run's only")
    with torch.no_grad():
        for name, tensor in first.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.stack([m.state_dict()[name] for m, _ in models]).mean(0))
    meta = {"averaged": [str(p) for p in paths], "steps": [b["meta"].get("step") for _, b in models]}
    return save_checkpoint(out, first, text_encoder_options=blob["text_encoder"]["options"], meta=meta)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("snapshots", nargs="+", help="inference checkpoints of one run (keep_every snapshots)")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    print(average(args.snapshots, args.out))


if __name__ == "__main__":
    main()
