"""Enlarge a trained model without losing it: `python -m train.grow CHECKPOINT --blocks 18 --out grown.pt`.

Why: on two CPU cores a network trained from scratch needs tens of thousands of steps to catch up with the shipped
one, so a larger model is grown from it instead. The new FiLM blocks are appended after the trained ones with their
output projection set to zero: each block is residual (x + project(h)), so the grown network computes exactly what
the checkpoint did, and training (`python -m train init_from=grown.pt model.blocks=18 ...`) starts from the shipped
model's quality rather than from noise. Dilations continue the model's cycle, so the new blocks add receptive field.
`--refine-channels N` adds the 2-D frequency refiner of the mask (lasso.models.lasso_net.FrequencyRefiner) the same
way: its output layer starts at zero, so it too starts as the identity.
"""

import argparse
from pathlib import Path

import torch

from lasso import load_checkpoint, save_checkpoint
from lasso.models import build_model


def grow(path: str | Path, blocks: int | None, out: str | Path, refine_channels: int = 0) -> Path:
    """Write a checkpoint of `path`'s model with `blocks` FiLM blocks (None: as many as it has) and, with
    `refine_channels`, a frequency refiner; everything added starts as the identity."""
    model, blob = load_checkpoint(path)
    blocks = model.cfg.blocks if blocks is None else blocks
    adds_refiner = refine_channels > 0 and not model.cfg.refine_channels
    if blocks < model.cfg.blocks or (blocks == model.cfg.blocks and not adds_refiner):
        raise SystemExit(f"{path} has {model.cfg.blocks} blocks and refine_channels={model.cfg.refine_channels}; "
                         "--blocks must be more, or --refine-channels must add a refiner, to grow it")
    cfg = {**model.cfg.to_dict(), "blocks": blocks}
    if adds_refiner:
        cfg["refine_channels"] = refine_channels
    grown = build_model("separator", cfg)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("blocks.", "refine.")) for k in missing), (missing, unexpected)
    with torch.no_grad():
        zeroed = [b.project for b in grown.blocks[model.cfg.blocks:]] + ([grown.refine.out] if adds_refiner else [])
        for layer in zeroed:
            layer.weight.zero_()
            layer.bias.zero_()
    meta = {"grown_from": str(path), "blocks_from": model.cfg.blocks, **blob["meta"]}
    return save_checkpoint(out, grown, text_encoder_options=blob["text_encoder"]["options"], meta=meta, half=False)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="inference checkpoint to grow (e.g. lasso/weights/lasso-default.pt)")
    p.add_argument("--blocks", type=int, help="FiLM blocks of the grown model (default: as many as it has)")
    p.add_argument("--refine-channels", type=int, default=0,
                   help="add a 2-D frequency refiner of the mask this wide (e.g. 16; default: none)")
    p.add_argument("--out", required=True, help="where to write the grown checkpoint")
    args = p.parse_args(argv)
    print(grow(args.checkpoint, args.blocks, args.out, args.refine_channels))


if __name__ == "__main__":
    main()
