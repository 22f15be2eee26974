"""How the small helper models (the audio-text scorer, the candidate judge) are optimised: AdamW under a one-cycle
schedule. Short runs on a fixed step budget, so no resumable state; the separator's own loop is in train/train.py."""

from collections.abc import Iterable

import torch


class OneCycle:
    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, steps: int, warmup: float) -> None:
        """warmup: share of the steps spent rising to `lr` (at least 3 steps, so tiny test runs still schedule)."""
        self.opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=steps,
                                                         pct_start=max(warmup, 3 / steps))

    def step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
