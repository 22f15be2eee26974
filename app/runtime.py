"""What the app's handlers share per process: the cached Separator, decoded inputs, the work folder, error mapping.

Loading a model takes seconds and memory, so one `Separator` per checkpoint lives for the process of `lasso app`
(the workbench mounted by the API loads none: its runs go through the queue, see app.backends). Errors the library
raises on purpose become `gr.Error`s with a readable title, so users see what to fix and never a traceback.
"""

import functools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import gradio as gr
import numpy as np

from lasso import LassoError, load_audio

if TYPE_CHECKING:  # the model (and torch) load only where the page separates in-process (`lasso app`)
    from lasso import Separator

log = logging.getLogger("app")
F = TypeVar("F", bound=Callable[..., Any])

WORK_DIR = Path(tempfile.gettempdir()) / "lasso-app"  # inside the temp dir, which Gradio may serve files from
RUN_DIR_MAX_AGE = 24 * 3600.0  # seconds; older run folders are removed when a new run starts
ERROR_TITLES = {
    "INVALID_AUDIO": "Can't use this audio",
    "UNSUPPORTED_FORMAT": "Unsupported file type",
    "AUDIO_TOO_LONG": "The audio is too long",
    "INVALID_PROMPT": "Check the prompt",
    "INVALID_OPTION": "Check the options",
    "MODEL_LOAD_FAILED": "The model could not be loaded",
}

_lock = threading.Lock()
_separators: dict[str | None, "Separator"] = {}


def default_checkpoint() -> str | None:
    """The checkpoint the app serves: env LASSO_CHECKPOINT ("debug" in tests), else the shipped default model."""
    return os.environ.get("LASSO_CHECKPOINT") or None


def get_separator(checkpoint: str | None) -> "Separator":
    """One Separator per checkpoint for the life of the process (the lock stops two first requests loading twice)."""
    from lasso import Separator

    with _lock:
        if checkpoint not in _separators:
            log.info("loading separator %s", checkpoint or "(default model)")
            _separators[checkpoint] = Separator.from_pretrained(checkpoint)
        return _separators[checkpoint]


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime: float) -> tuple[np.ndarray, int]:
    return load_audio(path)


def load_input(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode an input file, reusing the last decodes: span edits redraw the picture without decoding again."""
    p = Path(path)
    return _load_cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


def new_run_dir() -> Path:
    """A fresh folder for one run's outputs; stale ones from earlier runs are swept first."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in WORK_DIR.glob("run-*"):
        if now - old.stat().st_mtime > RUN_DIR_MAX_AGE:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=WORK_DIR))


def as_gr_error(exc: LassoError) -> gr.Error:
    return gr.Error(exc.message, title=ERROR_TITLES.get(exc.code, "Something is wrong"), print_exception=False)


def readable_errors(fn: F) -> F:
    """Turn library errors into readable page messages; anything unexpected is logged and reported briefly."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except LassoError as exc:
            raise as_gr_error(exc) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"{type(exc).__name__}: {exc}", title="Unexpected error (see the server log)",
                           print_exception=False) from None

    return wrapper  # type: ignore[return-value]
