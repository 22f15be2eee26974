"""Shared fixtures: a tiny real corpus (a few files per dataset of ../shared/data) and its validation set; a corpus
of synthetic clips held in memory; and the session-end check that the suite left no process running
(tests/leftovers.py)."""

from pathlib import Path

import numpy as np
import pytest

from tests.leftovers import pytest_configure, pytest_sessionfinish  # noqa: F401  (hooks, found by name)
from train.data.corpus import Clip, Corpus, build_corpus, default_shared_dir
from train.data.validation import write_validation_set

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = default_shared_dir()


def memory_corpus(root: Path, sample_rate: int, rows: list[tuple[str, str, np.ndarray, str, str]]) -> Corpus:
    """A corpus held in memory like a built one, from (label, source, float wav, split, origin) rows: for tests that
    need sounds of a known shape under known labels and sources."""
    clips, chunks, offset = [], [], 0
    for i, (label, source, wav, split, origin) in enumerate(rows):
        chunks.append(np.round(np.asarray(wav) * 32767).astype(np.int16))
        clips.append(Clip(i, f"synthetic/{i}.wav", label, source, f"synthetic:{i}", "CC0-1.0", split, offset,
                          len(wav), origin))
        offset += len(wav)
    return Corpus(root, sample_rate, clips, np.concatenate(chunks))


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_corpus")
    return build_corpus(SHARED_DATA, out, limit_per_source=40, val_fraction=0.3, max_clip_seconds=6.0)


@pytest.fixture(scope="session")
def tiny_val_dir(tiny_corpus_dir, tmp_path_factory) -> Path:
    return write_validation_set(Corpus.load(tiny_corpus_dir), tmp_path_factory.mktemp("tiny_val"), n=12,
                                segment_seconds=3.0)
