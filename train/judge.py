"""`python -m train.judge`: train the candidate judge that reranking uses to pick the best of k separations.

Why a judge and not the audio-text scorer alone: the scorer says whether a clip sounds like the prompt, but the k
candidates of one input all contain the prompted sound; what differs is how much of it they keep and how much of the
rest leaks in. So the judge is trained on exactly that task: the shipped separator makes the k reranking candidates
for mixtures of the training split, each candidate's true SDR is measured against the known target, and the judge
learns to rank candidates of the same mixture (a listwise loss: softmax of its scores against softmax of the SDRs).

Where the candidates come from (`candidates_from`): `mixtures` of the training split, as the separator trained on
them, or `recordings`: the real-world benchmark's protocol (two sources, each asked for by its class name) drawn from
the val split's recordings, which the separator never heard and the benchmark never scores.

Two stages, both resumable: candidates are generated in shards under `<run_dir>/candidates/` (skipped when present),
then the judge is fitted (the scorer features are cached beside the shards) and the best checkpoint, by the
validation SDR of its picks, saved as `<run_dir>/judge.pt`; copy it to lasso/weights/lasso-judge.pt to ship it.
Validation uses its own candidates: from the fixed validation set's items `val_items` (not the ones the benchmark
reports on), or with `recordings` from another draw of val-split pairs.
"""

import json
from collections.abc import Callable
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F
from tqdm import tqdm

from lasso import Separator, load_real_world, load_scorer, load_validation_set, make_variants, save_judge
from lasso.metrics import snr_sdr
from lasso.models import CandidateJudge, build_model, load_text_encoder
from train.data.corpus import Corpus
from train.data.mixtures import MixtureSampler
from train.data.real_world import build_real_world
from train.one_cycle import OneCycle


def generate_shard(sep: Separator, items: list, k: int, path: Path, sample_rate: int) -> None:
    """Make the k reranking candidates of each (mixture, target, prompt) item and store them with their SDRs."""
    mixtures, targets, cands, sdrs, prompts = [], [], [], [], []
    for mixture, target, prompt in items:
        variants = make_variants(prompt, k, sep.model.cfg.hop)
        outs = sep.candidates(mixture, sample_rate, prompt, variants)
        mixtures.append(mixture)
        targets.append(target)
        cands.append(np.stack([t for t, _ in outs]))
        sdrs.append([snr_sdr(target, t) for t, _ in outs])
        prompts.append(prompt)
    np.savez(path, mixtures=np.stack(mixtures).astype(np.float16), targets=np.stack(targets).astype(np.float16),
             candidates=np.stack(cands).astype(np.float16), sdrs=np.array(sdrs, np.float32),
             prompts=np.array(prompts))


def recording_items(corpus: Corpus, items_dir: Path, groups: int, shares: tuple[float, float, float],
                    seed: int) -> list[tuple]:
    """`groups` (mixture, target, prompt) items in the real-world benchmark's protocol, drawn from the val split's
    recordings (the separator never trained on them, the benchmark never scores them), each source of a pair once;
    `shares` of environmental pairs, speech and music mixtures. The pairs are written to `items_dir` once.

    Why: on training mixtures the separator has seen every recording, so its candidates are all good and the judge
    learns little about the real-world failures (a silent answer, the other source) it should steer away from."""
    if not (items_dir / "index.csv").exists():
        pairs = -(-groups // 2)
        n_env, n_speech = round(pairs * shares[0]), round(pairs * shares[1])
        build_real_world(corpus, items_dir, n_env=n_env, n_speech=n_speech, n_music=pairs - n_env - n_speech,
                         seed=seed, split="val")
    items = [(it.mixture, ref, prompt) for it in load_real_world(items_dir)
             for ref, prompt in ((it.a, it.prompt_a), (it.b, it.prompt_b))]
    return [items[i] for i in np.random.default_rng(seed).permutation(len(items))[:groups]]


def shard_source(cfg: DictConfig, corpus: Corpus, out: Path) -> Callable[[int, np.random.Generator], list[tuple]]:
    """shard number, rng -> that shard's (mixture, target, prompt) items, from `cfg.candidates_from`."""
    if cfg.candidates_from == "recordings":
        items = recording_items(corpus, out / "recordings", cfg.train_shards * cfg.shard_size,
                                tuple(cfg.recording_kinds), cfg.seed)
        return lambda shard, rng: items[shard * cfg.shard_size:(shard + 1) * cfg.shard_size]
    if cfg.candidates_from == "mixtures":
        sampler = MixtureSampler(corpus, "train", segment_seconds=cfg.data.segment_seconds, absent_prob=0.0)
        return lambda shard, rng: [(m.mixture, m.target, m.prompt)
                                   for m in (sampler.sample(rng) for _ in range(cfg.shard_size))]
    raise ValueError(f"candidates_from must be mixtures or recordings, not {cfg.candidates_from!r}")


def generate(cfg: DictConfig, sep: Separator, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus.load(Path(to_absolute_path(cfg.data.corpus_dir)))
    shard_items = shard_source(cfg, corpus, out)
    for shard in tqdm(range(cfg.train_shards), desc=f"candidates ({cfg.candidates_from})"):
        path = out / f"train_{shard:03d}.npz"
        if path.exists():
            continue
        rng = np.random.default_rng(cfg.seed * 100_000 + shard)  # a shard's content does not depend on the others
        generate_shard(sep, shard_items(shard, rng), cfg.k, path, corpus.sample_rate)
    path = out / "val.npz"
    if not path.exists():
        items, sample_rate = validation_items(cfg, corpus, out)
        generate_shard(sep, tqdm(items, desc="candidates (val)"), cfg.k, path, sample_rate)


def validation_items(cfg: DictConfig, corpus: Corpus, out: Path) -> tuple[list[tuple], int]:
    """The (mixture, target, prompt) items that pick the best judge, and their sample rate: the fixed validation
    set's items `val_items` (target present), or with `recordings` as many groups from another draw of val-split
    pairs, so the judge is picked on the kind of input it learnt from."""
    lo, hi = cfg.val_items
    if cfg.candidates_from == "recordings":
        items = recording_items(corpus, out / "recordings-val", hi - lo, tuple(cfg.recording_kinds), cfg.seed + 1)
        return items, corpus.sample_rate
    val = [it for it in load_validation_set(Path(to_absolute_path(cfg.data.val_dir)))[lo:hi] if not it.absent]
    return [(it.mixture, it.target, it.prompt) for it in val], val[0].sample_rate  # the set's own rate, as written


def load_shards(paths: list[Path]) -> dict[str, np.ndarray]:
    parts = [dict(np.load(p)) for p in paths]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@torch.no_grad()
def featurize(judge: CandidateJudge, encoder, data: dict, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Judge features [N, k, C, F] (fp16) and prompt embeddings [N, D] of a candidate set, computed once: they come
    from the frozen scorer, so training only runs the judge's own small network."""
    n, k = data["sdrs"].shape
    text = encoder.encode(list(data["prompts"]))
    feats = []
    for i in tqdm(range(0, n, batch), desc="features", leave=False):
        cands = torch.from_numpy(data["candidates"][i:i + batch].astype(np.float32))  # [b, k, T]
        mix = torch.from_numpy(data["mixtures"][i:i + batch].astype(np.float32))[:, None]
        t = text[i:i + batch].repeat_interleave(k, 0)
        f = judge.features(cands.flatten(0, 1), (mix - cands).flatten(0, 1), t)
        feats.append(f.view(len(cands), k, *f.shape[1:]).half())
    return torch.cat(feats), text


def cached(path: Path, compute, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features are reused between fits of the same candidates (they take minutes; a fit takes about one).
    Delete the file after changing the scorer or the feature definition."""
    if path.exists():
        feats, text = torch.load(path)
        if len(feats) == groups:
            return feats, text
    feats, text = compute()
    torch.save((feats, text), path)
    return feats, text


@torch.no_grad()
def pick_quality(judge: CandidateJudge, feats: torch.Tensor, text: torch.Tensor, sdrs: np.ndarray) -> dict:
    """Mean SDR of the judge's picks among the first 4 and all k candidates (reranking offers prefixes of one
    variant list), next to the plain candidate (index 0) and the oracle pick, on a candidate set."""
    judge.eval()
    n, k = sdrs.shape
    q = {"plain": float(sdrs[:, 0].mean())}
    for kk in sorted({min(4, k), k}):
        picks = judge(feats[:, :kk].float(), text).argmax(1).numpy()
        q[f"picked_k{kk}"] = float(sdrs[np.arange(n), picks].mean())
        q[f"oracle_k{kk}"] = float(sdrs[:, :kk].max(1).mean())
    q["picked"] = float(np.mean([v for key, v in q.items() if key.startswith("picked_k")]))
    judge.train()
    return q


def fit(cfg: DictConfig, out: Path, run_dir: Path) -> None:
    torch.manual_seed(cfg.seed)
    scorer = load_scorer(_resolve(cfg.scorer))
    judge = build_model("judge", OmegaConf.to_container(cfg.model, resolve=True), scorer=scorer)
    encoder = load_text_encoder(judge.cfg.text_encoder)
    train = load_shards(sorted(out.glob("train_*.npz")))
    val = load_shards([out / "val.npz"])
    train_x, train_text = cached(out / "features_train.pt", lambda: featurize(judge, encoder, train),
                                 len(train["sdrs"]))
    val_x, val_text = cached(out / "features_val.pt", lambda: featurize(judge, encoder, val), len(val["sdrs"]))
    train_sdr = torch.from_numpy(train["sdrs"]).clamp(min=-30)
    params = [p for p in judge.parameters() if p.requires_grad]
    optim = OneCycle(params, cfg.lr, cfg.steps, warmup=0.1)
    rng = np.random.default_rng(cfg.seed)
    n, k = train_sdr.shape
    best, log = -np.inf, []
    print(f"{n} training groups of {k} candidates; validation before training: "
          f"{json.dumps(pick_quality(judge, val_x, val_text, val['sdrs']))}")
    bar = tqdm(range(1, cfg.steps + 1), desc="judge", dynamic_ncols=True)
    for step in bar:
        idx = torch.from_numpy(rng.choice(n, min(n, cfg.batch_groups), replace=False))
        kk = int(rng.integers(2, k + 1))  # reranking with k candidates shows the judge the first k variants
        scores = judge(train_x[idx, :kk].float(), train_text[idx])
        target = F.softmax(train_sdr[idx, :kk] / cfg.temperature, dim=1)  # listwise: rank like the true SDRs
        loss = F.cross_entropy(scores, target)
        optim.step(loss)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.eval_every == 0 or step == cfg.steps:
            q = pick_quality(judge, val_x, val_text, val["sdrs"])
            log.append({"step": step, **q})
            tqdm.write(f"step {step}: val SDR " + ", ".join(f"{key} {v:.2f}" for key, v in q.items()))
            if q["picked"] > best:
                best = q["picked"]
                save_judge(run_dir / "judge.pt", judge, meta={"step": step, **q})
    (run_dir / "history.json").write_text(json.dumps(log, indent=1))
    print(f"best judge: {run_dir / 'judge.pt'} (val SDR of its picks, mean over k=4 and k={k}: {best:.2f} dB)")


def _resolve(value: str | None) -> str | None:
    """A path relative to the repository root (Hydra), None for the shipped file, or "debug"."""
    return value if value in (None, "debug") else to_absolute_path(value)


def run(cfg: DictConfig) -> Path:
    """Generate the candidates (unless present) and fit the judge; returns the run directory."""
    torch.set_num_threads(cfg.threads)
    run_dir = Path(to_absolute_path(cfg.run_dir))
    out = run_dir / "candidates"
    if cfg.stage in ("generate", "all"):
        generate(cfg, Separator.from_pretrained(_resolve(cfg.checkpoint)), out)
    if cfg.stage in ("fit", "all"):
        fit(cfg, out, run_dir)
    return run_dir


@hydra.main(config_path="../configs", config_name="judge", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
