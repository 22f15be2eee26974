"""`python -m evaluate [set=real_world]`: score a checkpoint on the validation set or the real-world benchmark
(config: configs/evaluate.yaml).

Only this file reads Hydra config; `evaluate.evaluate` takes a Separator and items, so notebooks and the benchmark
call it the same way.
"""

import inspect
import json
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from evaluate import real_world
from evaluate.evaluate import run_evaluation
from evaluate.plots import write_confusion_plots, write_real_world_plots
from evaluate.report import headline_markdown
from lasso import Separator, load_real_world, load_validation_set


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """{"all": {"model": {"sdri": 3.1}}} -> {"all/model/sdri": 3.1}, the flat keys wandb charts."""
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        elif isinstance(v, int | float):
            out[f"{prefix}{k}"] = v
    return out


def _log_wandb(cfg: DictConfig, result: dict[str, Any], files: dict[str, Path], out_dir: Path) -> None:
    import wandb  # lazy: a slow import that only this option needs

    run = wandb.init(project=cfg.logging.project, mode=cfg.logging.mode, dir=str(out_dir), job_type="evaluate",
                     config=OmegaConf.to_container(cfg, resolve=True))
    summary = result["summary"]
    run.summary.update(_flatten({k: summary[k] for k in ("all", "snr_0", "absent")}))
    run.log({name: wandb.Image(str(path)) for name, path in files.items() if path.suffix == ".png"})
    run.finish()


@hydra.main(config_path="../configs", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    checkpoint = cfg.checkpoint
    if checkpoint not in (None, "debug"):
        checkpoint = to_absolute_path(checkpoint)
    out_dir = Path(to_absolute_path(cfg.out_dir)) if cfg.out_dir else Path(HydraConfig.get().runtime.output_dir)
    separator = Separator.from_pretrained(checkpoint, device=cfg.device)
    if cfg.set == "real_world":
        return _real_world(cfg, separator, out_dir)
    val_dir = Path(to_absolute_path(cfg.val_dir))
    if not (val_dir / "index.csv").exists():
        raise SystemExit(f"no validation set at {val_dir}: build it with `python -m train.prepare_data`")
    items = load_validation_set(val_dir)
    if cfg.limit is not None:
        items = items[: int(cfg.limit)]
    result, files = run_evaluation(separator, items, out_dir, museval=cfg.museval, progress=cfg.progress)
    if cfg.logging.wandb:
        _log_wandb(cfg, result, files, out_dir)
    print(headline_markdown(result["summary"]))
    print(f"\nreport: {files['report']}")


def _real_world(cfg: DictConfig, separator: Separator, out_dir: Path) -> None:
    """Per-kind SDRi of each source under its own prompt, references and prompt swap (with `solo`, each source alone
    too); results.json and report.md."""
    set_dir = Path(to_absolute_path(cfg.real_world_dir))
    if not (set_dir / "index.csv").exists():
        raise SystemExit(f"no benchmark set at {set_dir}: build it with `python benchmarks/real_world.py`")
    items = load_real_world(set_dir)[: cfg.limit]
    rows = real_world.score(separator, items, progress=lambda xs: tqdm(xs, disable=not cfg.progress, unit="item"))
    summary = real_world.summarize(rows)
    name = str(cfg.checkpoint or "shipped")
    names = real_world.confusion_names(items)
    solo = real_world.solo_rows(separator, items, names, progress=lambda xs: tqdm(
        xs, disable=not cfg.progress, unit="item", desc="sources alone")) if cfg.solo else []
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps({"summary": summary, "rows": rows, "solo": solo}, indent=1))
    table = real_world.markdown({name: summary})
    plots = write_real_world_plots({name: summary}, {name: rows}, out_dir)
    density = real_world.groups_markdown({name: rows}, real_world.by_density)
    report = (f"# Real-world benchmark\n\n{real_world.__doc__}\n{table}\n\n"
              f"## One-shot and continuous targets\n\n{density}\n\n")
    if solo:
        plots += write_confusion_plots({name: solo}, list(names), out_dir)
        solo_table = real_world.solo_markdown({name: solo}, list(names))
        report += (f"## Each source alone, asked for by its own name and by others'\n\n"
                   f"{inspect.getdoc(real_world.solo_rows)}\n\n{solo_table}\n\n")
    report += "\n".join(f"![{p.name}]({p.name})" for p in plots)
    (out_dir / "report.md").write_text(report + "\n")
    print(f"{table}\n\nreport: {out_dir / 'report.md'}")


if __name__ == "__main__":
    main()
