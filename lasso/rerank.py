"""Reranking: make k genuinely different candidates, keep the one the candidate judge ranks best.

Candidates differ in how they ask and how they cut: the user's prompt and paraphrases of it (a different point in
the text-embedding space conditions the network differently), a small time shift of the STFT grid (test-time
augmentation), and the mask's sharpness (softer keeps more of the target, sharper leaks less). The judge
(lasso.models.judge) reads the audio-text scorer's view of each candidate's target and residual plus where the cut
was made, and was trained to rank candidates by their true SDR; the shipped judge file carries its scorer.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from lasso.errors import ModelLoadError
from lasso.models.audio_text import AudioTextScorer
from lasso.models.builders import build_model
from lasso.models.judge import CandidateJudge

DEFAULT_SCORER = "lasso-scorer.pt"  # input of `python -m train.judge`
DEFAULT_JUDGE = "lasso-judge.pt"  # what reranking loads (it carries its scorer)


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


def default_path(name: str) -> Path:
    return Path(str(resources.files("lasso") / "weights" / name))


def load_scorer(path: str | Path | None = None) -> AudioTextScorer:
    """Load the shipped audio-text scorer (None), a file, or "debug" (random weights, for tests of the mechanics)."""
    if path == "debug":
        return build_model("scorer", "debug").eval()
    path = Path(path) if path else default_path(DEFAULT_SCORER)
    blob = _load(path, "the audio-text scorer", "python -m train.scorer")
    return _build(path, lambda: build_model("scorer", blob["config"]), blob["state_dict"])


def load_judge(path: str | Path | None = None) -> CandidateJudge:
    """Load the shipped judge (None), a file, or "debug" (random weights on a random scorer, for tests)."""
    if path == "debug":
        return build_model("judge", "debug", scorer="debug").eval()
    path = Path(path) if path else default_path(DEFAULT_JUDGE)
    blob = _load(path, "the candidate judge", "python -m train.judge")
    return _build(path, lambda: build_model("judge", blob["config"], scorer=blob["scorer_config"]),
                  blob["state_dict"])


def _load(path: Path, what: str, command: str) -> dict:
    if not path.exists():
        raise ModelLoadError(f"reranking needs {what}, not found at {path} (train one with `{command}`, see README)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"could not load {what} {path}: {exc}") from exc


def _build(path: Path, make, state: dict):
    try:
        model = make()
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except Exception as exc:
        raise ModelLoadError(f"{path} does not fit this version's model: {exc}") from exc
    return model.eval()


def save_scorer(path: str | Path, model: AudioTextScorer, meta: dict | None = None) -> Path:
    return _save(path, {"config": model.cfg.to_dict(), "state_dict": _half(model), "meta": meta or {}})


def save_judge(path: str | Path, judge: CandidateJudge, meta: dict | None = None) -> Path:
    """The judge file holds its scorer too: the judge is only meaningful on the features it was trained on."""
    return _save(path, {"config": judge.cfg.to_dict(), "scorer_config": judge.scorer.cfg.to_dict(),
                        "state_dict": _half(judge), "meta": meta or {}})


def _half(model: torch.nn.Module) -> dict:
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def _save(path: str | Path, blob: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blob, path)
    return path
