"""Training data: clean labels (labels), a decoded corpus (corpus), prompts (prompts), on-the-fly mixtures
(mixtures), the fixed validation set (validation) and Debian extra sources (debian, render).

Kept empty on purpose: importing `train.data.labels` must not pull in torch through `mixtures`.
"""
