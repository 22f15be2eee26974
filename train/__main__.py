"""`python -m train [hydra overrides]`: train LassoNet. See configs/train.yaml for every knob."""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from train.train import train


@hydra.main(config_path="../configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    cfg.data.corpus_dir = to_absolute_path(cfg.data.corpus_dir)
    cfg.data.val_dir = to_absolute_path(cfg.data.val_dir)
    best = train(cfg, Path(HydraConfig.get().runtime.output_dir))
    print(f"best checkpoint: {best}")


if __name__ == "__main__":
    main()
