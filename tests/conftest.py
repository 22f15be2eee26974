"""Shared fixtures: a tiny real corpus (a few files per dataset of ../shared/data) and its validation set; and the
session-end check that the suite left no process running (tests/leftovers.py)."""

from pathlib import Path

import pytest

from tests.leftovers import pytest_configure, pytest_sessionfinish  # noqa: F401  (hooks, found by name)
from train.data.corpus import Corpus, build_corpus, default_shared_dir
from train.data.validation import write_validation_set

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = default_shared_dir()


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_corpus")
    return build_corpus(SHARED_DATA, out, limit_per_source=40, val_fraction=0.3, max_clip_seconds=6.0)


@pytest.fixture(scope="session")
def tiny_val_dir(tiny_corpus_dir, tmp_path_factory) -> Path:
    return write_validation_set(Corpus.load(tiny_corpus_dir), tmp_path_factory.mktemp("tiny_val"), n=12,
                                segment_seconds=3.0)
