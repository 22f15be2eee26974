#!/usr/bin/env bash
# Make the project runnable on a fresh machine: a virtualenv in .venv with the pinned dependencies.
# Idempotent and quick when nothing changed (it re-installs only when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch/torchaudio first: pip takes them from this machine's local wheel cache when the pins match.
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchaudio==2.11.0"
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
