"""Reranking: make k genuinely different candidates, keep the one the audio-text scorer likes best.

Candidates differ in how they ask and how they cut: the user's prompt and paraphrases of it (a different point in
the text-embedding space conditions the network differently), a small time shift of the STFT grid (test-time
augmentation), and the mask's sharpness (softer keeps more of the target, sharper leaks less). Each candidate's
target is scored against the prompt, minus a fraction of its residual's score: a good cut has the sound in the
target and not in the residual.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from lasso.config import ScorerConfig
from lasso.errors import ModelLoadError
from lasso.models.audio_text import AudioTextScorer

DEFAULT_SCORER = "lasso-scorer.pt"
RESIDUAL_WEIGHT = 0.5  # score = sim(target, prompt) - RESIDUAL_WEIGHT * sim(residual, prompt)


@dataclass(frozen=True)
class Variant:
    """How one candidate is made."""

    prompt: str  # text the network is conditioned on
    shift: int = 0  # samples of STFT-grid shift (test-time augmentation)
    sharpness: float = 1.0  # mask exponent: <1 softer, >1 sharper

    def describe(self, user_prompt: str) -> str:
        parts = [f'prompt "{self.prompt}"' if self.prompt != user_prompt else "your prompt"]
        if self.shift:
            parts.append(f"shifted {self.shift} samples")
        if self.sharpness != 1.0:
            parts.append(f"mask^{self.sharpness:g}")
        return ", ".join(parts)


def paraphrases(prompt: str) -> list[str]:
    """Rephrasings that keep the meaning; the bare prompt first."""
    p = prompt.strip()
    return [p, f"the sound of {p}", f"{p} sounds", f"isolate the {p}"]


def make_variants(prompt: str, k: int, hop: int) -> list[Variant]:
    """k distinct variants, the plain one first (so k=1 is exactly the normal separation)."""
    texts = paraphrases(prompt)
    pool = [Variant(prompt), Variant(texts[1]), Variant(prompt, sharpness=1.5), Variant(prompt, shift=hop // 2),
            Variant(texts[2]), Variant(prompt, sharpness=0.7), Variant(texts[3]), Variant(texts[1], shift=hop // 2)]
    return pool[:k]


def default_scorer_path() -> Path:
    return Path(str(resources.files("lasso") / "weights" / DEFAULT_SCORER))


def load_scorer(path: str | Path | None = None) -> AudioTextScorer:
    """Load the shipped scorer (None), a file, or "debug" (random weights, for tests of the mechanics)."""
    if path == "debug":
        torch.manual_seed(0)
        return AudioTextScorer(ScorerConfig(channels=32, layers=2)).eval()
    path = Path(path) if path else default_scorer_path()
    if not path.exists():
        raise ModelLoadError(f"reranking needs the audio-text scorer, not found at {path} "
                             "(train one with `python -m train.scorer`, see README)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = AudioTextScorer(ScorerConfig.from_dict(blob["config"]))
        model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except Exception as exc:
        raise ModelLoadError(f"could not load the scorer {path}: {exc}") from exc
    return model.eval()


def save_scorer(path: str | Path, model: AudioTextScorer, meta: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"config": model.cfg.to_dict(), "state_dict": state, "meta": meta or {}}, path)
    return path


@torch.inference_mode()
def score_candidates(scorer: AudioTextScorer, targets: torch.Tensor, residuals: torch.Tensor,
                     text: torch.Tensor) -> torch.Tensor:
    """targets/residuals [K, T] at the scorer's rate, text [1, D] -> scores [K]."""
    t = text.expand(targets.shape[0], -1)
    return scorer.score(targets, t) - RESIDUAL_WEIGHT * scorer.score(residuals, t)
