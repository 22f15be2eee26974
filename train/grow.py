"""Deepen a trained model without losing it: `python -m train.grow CHECKPOINT --blocks 18 --out grown.pt`.

Why: on two CPU cores a network trained from scratch needs tens of thousands of steps to catch up with the shipped
one, so a larger model is grown from it instead. The new FiLM blocks are appended after the trained ones with their
output projection set to zero: each block is residual (x + project(h)), so the grown network computes exactly what
the checkpoint did, and training (`python -m train init_from=grown.pt model.blocks=18 ...`) starts from the shipped
model's quality rather than from noise. Dilations continue the model's cycle, so the new blocks add receptive field.
"""

import argparse
from pathlib import Path

import torch

from lasso import load_checkpoint, save_checkpoint
from lasso.models import build_model


def grow(path: str | Path, blocks: int, out: str | Path) -> Path:
    """Write a checkpoint of `path`'s model with `blocks` FiLM blocks, the added ones starting as the identity."""
    model, blob = load_checkpoint(path)
    if blocks <= model.cfg.blocks:
        raise SystemExit(f"{path} has {model.cfg.blocks} blocks; --blocks must be more to grow it")
    grown = build_model("separator", {**model.cfg.to_dict(), "blocks": blocks})
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("blocks.") for k in missing), (missing, unexpected)
    with torch.no_grad():
        for block in grown.blocks[model.cfg.blocks:]:
            block.project.weight.zero_()
            block.project.bias.zero_()
    meta = {"grown_from": str(path), "blocks_from": model.cfg.blocks, **blob["meta"]}
    return save_checkpoint(out, grown, text_encoder_options=blob["text_encoder"]["options"], meta=meta, half=False)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="inference checkpoint to grow (e.g. lasso/weights/lasso-default.pt)")
    p.add_argument("--blocks", type=int, required=True, help="FiLM blocks of the grown model (more than it has)")
    p.add_argument("--out", required=True, help="where to write the grown checkpoint")
    args = p.parse_args(argv)
    print(grow(args.checkpoint, args.blocks, args.out))


if __name__ == "__main__":
    main()
