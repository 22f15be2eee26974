"""Self-describing checkpoints: {version, model_config, text_encoder, state_dict, meta}.

A checkpoint rebuilds its own model (no Hydra, no training code needed), and names the text encoder it was
trained with, because a model conditioned on one embedding space is useless with another.
"""

from importlib import resources
from pathlib import Path
from typing import Any

import torch

from lasso.errors import ModelLoadError
from lasso.models.builders import build_model
from lasso.models.lasso_net import LassoNet

FORMAT_VERSION = 1  # bump when the layout of the blob changes; files of another version are refused, not misread
DEFAULT_CHECKPOINT = "lasso-default.pt"


def default_checkpoint_path() -> Path:
    return Path(str(resources.files("lasso") / "weights" / DEFAULT_CHECKPOINT))


def save_checkpoint(path: str | Path, model: LassoNet, *, text_encoder_options: dict | None = None,
                    meta: dict[str, Any] | None = None, half: bool = True) -> Path:
    """Write a checkpoint; `half` stores weights as float16 (half the size, no measurable loss for inference)."""
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    blob = {
        "version": FORMAT_VERSION,
        "model_config": model.cfg.to_dict(),
        "text_encoder": {"name": model.cfg.text_encoder, "options": text_encoder_options or {}},
        "state_dict": state,
        "meta": meta or {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # atomic: a crash mid-save never leaves a truncated checkpoint
    return path


def load_checkpoint(path: str | Path | None = None) -> tuple[LassoNet, dict[str, Any]]:
    """Load `path` (None: the shipped default; "debug": a random tiny model). Returns (model in eval mode, blob)."""
    if path == "debug":
        model = build_model("separator", "debug")
        return model.eval(), {"version": FORMAT_VERSION, "model_config": model.cfg.to_dict(),
                              "text_encoder": {"name": model.cfg.text_encoder, "options": {}}, "meta": {}}
    path = Path(path) if path is not None else default_checkpoint_path()
    if not path.exists():
        hint = " (train one with `python -m train`, see README)" if path == default_checkpoint_path() else ""
        raise ModelLoadError(f"checkpoint not found: {path}{hint}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"could not load checkpoint {path}: {exc}") from exc
    version = blob.get("version") if isinstance(blob, dict) else None
    if version != FORMAT_VERSION:
        raise ModelLoadError(f"{path} is not an inference checkpoint of format version {FORMAT_VERSION} (it has "
                             f"{version!r}); a training state.pt is loaded with `init_from=`, not as a model")
    try:
        model = build_model("separator", blob["model_config"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except Exception as exc:
        raise ModelLoadError(f"could not load checkpoint {path}: {exc}") from exc
    return model.eval(), blob
