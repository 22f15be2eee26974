"""`python -m train.scorer`: train the audio-text scorer used for reranking (CLAP-style, contrastive).

Each batch holds clean clips of distinct, unrelated labels, each with a paraphrased prompt; the audio embedding of
a clip must match its own prompt's frozen MiniLM embedding and not the others' (symmetric InfoNCE). Half the clips
get a quiet unrelated sound mixed in, because the scorer will judge imperfect separations, not studio clips.
"""

from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F
from tqdm import tqdm

from lasso import save_scorer
from lasso.models import AudioTextScorer, build_model, load_text_encoder
from train.data.corpus import Corpus
from train.data.labels import related
from train.data.mixtures import MixtureSampler
from train.data.prompts import make_prompt
from train.one_cycle import OneCycle


def make_batch(sampler: MixtureSampler, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """n crops of clips with pairwise unrelated labels; half with a quiet interferer (-25..-8 dB).

    Each crop is the target source of one of the sampler's two-source mixtures (`scorer_sampler`), so clips are
    placed and drawn exactly as for the separator; its other source is an unrelated interferer.
    """
    labels: list[str] = []
    audio = []
    for _ in range(50 * n):  # bounded: a small corpus may not hold n pairwise unrelated labels
        m = sampler.sample(rng, absent=False)
        if any(related(m.label, t) for t in labels):
            continue
        wav = m.sources[0] / (np.sqrt(np.mean(m.sources[0] ** 2)) + 1e-8)
        if rng.random() < 0.5:
            other = m.sources[1] / (np.sqrt(np.mean(m.sources[1] ** 2)) + 1e-8)
            wav = wav + other * 10 ** (rng.uniform(-25, -8) / 20)
        audio.append(wav * 10 ** (rng.uniform(-30, -10) / 20))
        labels.append(m.label)
        if len(labels) == n:
            return np.stack(audio).astype(np.float32), labels
    raise ValueError(f"could not draw {n} pairwise unrelated labels from {len(sampler.labels)}: use a smaller "
                     "batch_size, or a larger corpus than the debug one")


def scorer_sampler(corpus: Corpus, split: str, segment_seconds: float) -> MixtureSampler:
    """Two-source mixtures with the target present: `make_batch` takes clips and interferers from them."""
    return MixtureSampler(corpus, split, segment_seconds=segment_seconds, num_sources=(2, 2), absent_prob=0.0)


@torch.inference_mode()
def retrieval_accuracy(model: AudioTextScorer, encoder, sampler: MixtureSampler, rng: np.random.Generator,
                       rounds: int = 8, n: int = 32) -> float:
    """Top-1 accuracy of matching each clip to its own label among n unrelated labels (chance = 1/n)."""
    model.eval()
    hits = 0
    for _ in range(rounds):
        audio, labels = make_batch(sampler, n, rng)
        sims = model.embed_audio(torch.from_numpy(audio)) @ encoder.encode(labels).T
        hits += int((sims.argmax(1) == torch.arange(n)).sum())
    model.train()
    return hits / (rounds * n)


@hydra.main(config_path="../configs", config_name="scorer", version_base="1.3")
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    corpus = Corpus.load(to_absolute_path(cfg.data.corpus_dir))
    train_s = scorer_sampler(corpus, "train", cfg.segment_seconds)
    val_s = scorer_sampler(corpus, "val", cfg.segment_seconds)
    model = build_model("scorer", OmegaConf.to_container(cfg.model, resolve=True))
    encoder = load_text_encoder(model.cfg.text_encoder)
    optim = OneCycle(model.parameters(), cfg.lr, cfg.steps, warmup=0.05)
    rng, val_rng_seed = np.random.default_rng(cfg.seed), 4321
    best, bar = -1.0, tqdm(range(1, cfg.steps + 1), desc="scorer", dynamic_ncols=True)
    for step in bar:
        audio, labels = make_batch(train_s, cfg.batch_size, rng)
        prompts = [make_prompt(label, rng) for label in labels]
        a = model.embed_audio(torch.from_numpy(audio))
        t = encoder.encode(prompts)
        logits = model.logit_scale.exp().clamp(max=100) * a @ t.T
        target = torch.arange(len(labels))
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        optim.step(loss)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            acc = retrieval_accuracy(model, encoder, val_s, np.random.default_rng(val_rng_seed))
            tqdm.write(f"step {step}: val top-1 retrieval among 32 = {acc:.3f} (chance 0.031)")
            if acc > best:
                best = acc
                save_scorer(run_dir / "scorer.pt", model, meta={"step": step, "val_top1_of_32": acc})
    print(f"best scorer: {run_dir / 'scorer.pt'} (val top-1 of 32: {best:.3f})")


if __name__ == "__main__":
    main()
