"""Build the training corpus and the fixed validation set: `python -m train.prepare_data [data=debug] [debian=false]`.

Only maps config to `train.data` calls and prints a summary; all the work lives there.
"""

from collections import Counter
from functools import partial
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from lasso import load_validation_set
from train.data.corpus import Corpus, assign_split, build_corpus
from train.data.debian import fetch_debian_sources
from train.data.sources import write_source_manifests
from train.data.validation import write_validation_set


def _path(p: str) -> Path:
    """Relative config paths mean the working directory, as in `python -m train` and `python -m evaluate`; `~` is
    the home folder (the shell does not expand it in `key=~/dir` overrides)."""
    return Path(to_absolute_path(str(Path(p).expanduser())))


def summarize(corpus: Corpus) -> str:
    """Counts per dataset and split, hours, label counts, and the recording-overlap check (must be 0)."""
    lines = []
    per = Counter((c.path.split("/")[0] if c.origin == "shared" else c.source.split()[0], c.split)
                  for c in corpus.all_clips)
    for dataset in sorted({d for d, _ in per}):
        lines.append(f"  {dataset:40s} train {per[dataset, 'train']:6d}  val {per[dataset, 'val']:5d}  "
                     f"test {per[dataset, 'test']:5d}")
    hours = sum(c.length for c in corpus.all_clips) / corpus.sample_rate / 3600
    train_rec = {c.recording_id for c in corpus.clips("train")}
    val_rec = {c.recording_id for c in corpus.clips("val")} | {c.recording_id for c in corpus.clips("test")}
    lines += [
        f"  files {len(corpus.all_clips)}, hours {hours:.2f}",
        f"  labels train {len(corpus.labels('train'))}, val {len(corpus.labels('val'))}, "
        f"val labels unseen in train {len(set(corpus.labels('val')) - set(corpus.labels('train')))}",
        f"  recording groups train {len(train_rec)}, val+test {len(val_rec)}, shared {len(train_rec & val_rec)}",
    ]
    return "\n".join(lines)


def _in_train(recording_id: str, **split: float) -> bool:
    return assign_split(recording_id, **split) == "train"


@hydra.main(config_path="../configs", config_name="prepare_data", version_base="1.3")
def main(cfg: DictConfig) -> None:
    data = cfg.data
    in_train = partial(_in_train, val_fraction=data.val_fraction, seed=data.split_seed,
                       test_fraction=data.test_fraction)
    extras = fetch_debian_sources(_path(cfg.debian_dir), sample_rate=data.sample_rate,
                                  extra_phrases=cfg.render_extra_phrases, in_train=in_train) if cfg.debian else []
    if data.sources_dir:
        extras += write_source_manifests(_path(data.sources_dir), _path(cfg.debian_dir).parent / "sources")
    corpus_dir = build_corpus(
        _path(data.shared_dir),
        _path(data.corpus_dir),
        sample_rate=data.sample_rate,
        max_clip_seconds=data.max_clip_seconds,
        min_clip_seconds=data.min_clip_seconds,
        extra_manifests=extras,
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        seed=data.split_seed,
        limit_per_source=data.limit_per_source,
    )
    corpus = Corpus.load(corpus_dir)
    print(f"corpus {corpus_dir}\n{summarize(corpus)}")
    val_dir = write_validation_set(corpus, _path(data.val_dir), n=cfg.val_n, segment_seconds=cfg.val_segment_seconds,
                                   seed=cfg.val_seed, activity_hop=data.activity_hop)
    items = load_validation_set(val_dir)
    zero_db = sum(not i.absent and i.snr_db == 0.0 for i in items)
    print(f"validation {val_dir}: {len(items)} items, {zero_db} at 0 dB, {sum(i.absent for i in items)} absent")


if __name__ == "__main__":
    main()
