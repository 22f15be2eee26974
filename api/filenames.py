"""Client-supplied names never become paths: the service names its own copies and keeps the client's name as a label.

`file_name` (POST /v1/files) and an `audio_url`'s path only ever contribute a suffix, and only one the worker can
decode (else `.bin`, which fails the job as UNSUPPORTED_FORMAT). Names with path separators, `..` or control
characters are refused at the door, so they cannot reach a log line, a Content-Disposition header or a storage key.
"""

import unicodedata
from pathlib import PurePosixPath

# What lasso decodes (lasso.audio: libsndfile's and ffmpeg's extensions); a test ties the two together.
INPUT_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".m4a", ".aac", ".opus",
                            ".mp4", ".mov", ".webm", ".mkv", ".wma"})
MAX_NAME_LENGTH = 255


def input_suffix(name: str) -> str:
    """The name's extension when it is one the worker decodes, else `.bin`: the only part of a name the service uses."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if suffix in INPUT_SUFFIXES else ".bin"


def local_input_name(name: str) -> str:
    """The name the service gives its own copy of an input: `input` plus a whitelisted suffix."""
    return "input" + input_suffix(name)


def check_file_name(name: str) -> str:
    """`name` when it is a plain file name; ValueError (a 400 with `param`) for anything that looks like a path."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"must be 1 to {MAX_NAME_LENGTH} characters")
    if "/" in name or "\\" in name:
        raise ValueError("must be a file name, not a path (no '/' or '\\')")
    if name in (".", "..") or ".." in name:
        raise ValueError("must not contain '..'")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise ValueError("must not contain control characters")
    return name
