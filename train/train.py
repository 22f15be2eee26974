"""Training loop for LassoNet, in the spirit of nanoGPT: setup, then one readable loop.

Runs on CPU or GPU, single process or `torchrun --nproc_per_node=N -m train` (DDP). Every `ckpt_every` steps it
writes the full training state (resumable: rerun the same command and it continues) and, when validation SDRi
improves, an inference checkpoint `best.pt` that `Separator.from_pretrained(path)` loads.
"""

import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from hydra.core.config_store import ConfigStore
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from lasso import load_validation_set, save_checkpoint
from lasso.metrics import energy_ratio_db, sdri
from lasso.models import DEBUG_CONFIGS, LassoNet, build_model, load_text_encoder
from train.data.augment import AugmentConfig
from train.data.corpus import Corpus
from train.data.mixtures import MixtureDataset, MixtureSampler
from train.losses import thresholded_snr_loss
from train.spans import span_hints

# `model=debug` is lasso's debug separator, so the tiny model of the tests is defined once (lasso.models.builders).
ConfigStore.instance().store(group="model", name="debug", node=asdict(DEBUG_CONFIGS["separator"]))


def lr_at(step: int, cfg: DictConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


@torch.inference_mode()
def validate(model: LassoNet, encoder, items, device: str, batch: int = 16) -> dict[str, float]:
    """Mean SDRi (dB) over present-target items and energy leak (dB) on absent-target items, with the metrics of
    `python -m evaluate` (lasso.metrics: AudioSep's SNR-style SDR), so training curves and reports agree."""
    model.eval()
    improvements, leak = [], []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        mix = torch.from_numpy(np.stack([it.mixture for it in chunk])).to(device)
        est = model(mix, encoder.encode([it.prompt for it in chunk]).to(device)).cpu().numpy()
        for it, e in zip(chunk, est, strict=True):
            if it.absent:
                leak.append(energy_ratio_db(e, it.mixture))
            else:
                improvements.append(sdri(it.target, e, it.mixture))
    model.train()
    return {"val/sdri": float(np.mean(improvements)) if improvements else float("nan"),
            "val/absent_leak_db": float(np.mean(leak)) if leak else float("nan")}


def train(cfg: DictConfig, run_dir: Path) -> Path:
    """Train per `cfg` into `run_dir`; returns the path of the best inference checkpoint."""
    ddp = "RANK" in os.environ
    if ddp:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
    main = rank == 0
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and ddp:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        torch.cuda.set_device(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + rank)

    model = build_model("separator", OmegaConf.to_container(cfg.model, resolve=True)).to(device)
    encoder_options = OmegaConf.to_container(cfg.text_encoder_options, resolve=True) or {}
    encoder = load_text_encoder(model.cfg.text_encoder, **encoder_options)
    o = cfg.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay, betas=(0.9, 0.99))
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path, best_path = run_dir / "state.pt", run_dir / "best.pt"
    step, best = 0, -float("inf")
    if cfg.init_from and not state_path.exists():  # fine-tune: weights from another run, fresh optimiser/schedule
        init = torch.load(to_absolute_path(cfg.init_from), map_location=device, weights_only=False)
        init_blocks = init.get("model_config", {}).get("blocks", cfg.model.blocks)
        if init_blocks != cfg.model.blocks:  # else a wall of missing keys; v5 and before have 12 blocks
            raise SystemExit(f"{cfg.init_from} has {init_blocks} blocks and this run {cfg.model.blocks}: pass "
                             f"model.blocks={init_blocks}, or deepen it first with `python -m train.grow`")
        model.load_state_dict(init.get("model") or {k: v.float() for k, v in init["state_dict"].items()})
        if main:
            print(f"initialised from {cfg.init_from}")
    if state_path.exists():  # resume: same command, same run dir
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, best = state["step"], state["best"]
        if main:
            print(f"resumed from {state_path} at step {step} (best val SDRi {best:.2f} dB)")
    net = DistributedDataParallel(model) if ddp else model
    if cfg.compile:
        model.blocks = torch.compile(model.blocks)  # the real-valued core only; STFT parts compile badly

    d = cfg.data
    corpus = Corpus.load(Path(d.corpus_dir))
    sampler = MixtureSampler(corpus, "train", segment_seconds=d.segment_seconds, num_sources=tuple(d.num_sources),
                             snr_db=tuple(d.snr_db), absent_prob=d.absent_prob, activity_hop=d.activity_hop,
                             seed=cfg.seed * 1000 + rank, texture_prob=d.texture_prob,
                             augment=AugmentConfig(enabled=bool(d.augment)),
                             active_snr_prob=d.active_snr_prob, family_weights=dict(d.family_weights),
                             holdout_labels=list(d.holdout_labels), same_family_prob=d.same_family_prob,
                             same_family_families=list(d.same_family_families),
                             absent_family_prob=d.absent_family_prob)
    if main:
        shares = ", ".join(f"{family} {share:.0%}" for family, share in sampler.source_shares().items())
        print(f"targets drawn by source: {shares}")
    loader = iter(DataLoader(MixtureDataset(sampler, both_sides=d.both_sides), batch_size=o.batch_size,
                             num_workers=cfg.workers, persistent_workers=cfg.workers > 0))
    val_items = load_validation_set(Path(d.val_dir))[: cfg.val_items] if main else []
    rng = np.random.default_rng(cfg.seed + 7919 * rank + step)

    run = None
    if main and cfg.logging.mode != "disabled":
        import wandb

        run = wandb.init(project=cfg.logging.project, name=cfg.run_name, dir=str(run_dir), mode=cfg.logging.mode,
                         config=OmegaConf.to_container(cfg, resolve=True), resume="allow", id=cfg.run_name)
    bar = tqdm(total=o.max_steps, initial=step, disable=not main, dynamic_ncols=True, desc="train")
    history_path = run_dir / "history.jsonl"
    model.train()
    t_last, loss_acc = time.perf_counter(), []
    while step < o.max_steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, o)
        batch = next(loader)
        mix, target = batch["mixture"].to(device), batch["target"].to(device)
        text = encoder.encode(batch["prompt"]).to(device)
        spans = span_hints(batch["activity"], model.frames(mix.shape[-1]), rng).to(device)
        est = net(mix, text, spans)
        loss = thresholded_snr_loss(est, target, mix)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
        opt.step()
        step += 1
        loss_acc.append(loss.item())
        if main and step % cfg.log_every == 0:
            dt = time.perf_counter() - t_last
            t_last = time.perf_counter()
            audio_s = cfg.log_every * o.batch_size * world * d.segment_seconds
            metrics = {"train/loss": float(np.mean(loss_acc)), "train/lr": lr_at(step, o),
                       "train/grad_norm": float(grad_norm), "train/audio_x_realtime": audio_s / dt}
            loss_acc = []
            bar.set_postfix(loss=f"{metrics['train/loss']:.2f}", x_rt=f"{metrics['train/audio_x_realtime']:.0f}")
            _log(run, history_path, step, metrics)
        if main and (step % cfg.eval_every == 0 or step == o.max_steps):
            val = validate(model, encoder, val_items, device)
            _log(run, history_path, step, val)
            tqdm.write(f"step {step}: val SDRi {val['val/sdri']:.2f} dB, "
                       f"absent leak {val['val/absent_leak_db']:.1f} dB")
            if val["val/sdri"] > best:
                best = val["val/sdri"]
                meta = {"step": step, "val_sdri_db": best, "run": cfg.run_name,
                        "data": OmegaConf.to_container(d, resolve=True)}
                save_checkpoint(best_path, model, text_encoder_options=encoder_options, meta=meta)
        if main and cfg.keep_every and step % cfg.keep_every == 0:  # snapshots to score on the real-world benchmark
            save_checkpoint(run_dir / f"step{step:06d}.pt", model, text_encoder_options=encoder_options,
                            meta={"step": step, "run": cfg.run_name})
        if main and (step % cfg.ckpt_every == 0 or step == o.max_steps):
            tmp = state_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step, "best": best,
                        "config": OmegaConf.to_container(cfg, resolve=True)}, tmp)
            tmp.replace(state_path)
        bar.update(1)
    bar.close()
    if run is not None:
        run.finish()
    if ddp:
        dist.destroy_process_group()
    return best_path


def _log(run, history_path: Path, step: int, metrics: dict[str, float]) -> None:
    """wandb when enabled, and always a local JSON-lines history that notebooks and plots read."""
    import json

    if run is not None:
        run.log(metrics, step=step)
    with history_path.open("a") as f:
        f.write(json.dumps({"step": step, **metrics}) + "\n")
