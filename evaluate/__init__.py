"""Scoring AudioLasso on the fixed validation set: `python -m evaluate`, see evaluate/evaluate.py."""
