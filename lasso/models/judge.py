"""The candidate judge: which of k separations of the same input is the best cut for the prompt?

Why it exists: the audio-text scorer alone judges whether a clip sounds like the prompt, but every candidate of one
input contains the prompted sound; they differ in how much of it they keep and what leaks in. The judge reads, per
frame, what the scorer sees (how much the target and the residual sound like the prompt, frame by frame and as a
whole) together with where the cut is made (the target's share of the mixture in each mel band, and the mixture
itself), and is trained to rank candidates by their true SDR (train/judge.py).
"""

import torch
from torch import nn
from torch.nn import functional as F

from lasso.config import JudgeConfig
from lasso.models.audio_text import AudioTextScorer


class CandidateJudge(nn.Module):
    def __init__(self, cfg: JudgeConfig, scorer: AudioTextScorer) -> None:
        super().__init__()
        self.cfg = cfg
        self.scorer = scorer.requires_grad_(False)  # frozen: the judge learns on top of its features
        c = cfg.channels
        # each candidate's features and their difference from its group's mean (see forward)
        self.inp = nn.Conv1d(2 * self.feature_channels, c, 3, padding=1)
        self.film = nn.Linear(cfg.text_dim, 2 * c * cfg.layers)
        self.norms = nn.ModuleList(nn.GroupNorm(1, c) for _ in range(cfg.layers))
        self.convs = nn.ModuleList(nn.Conv1d(c, c, 3, padding=2 ** i, dilation=2 ** i) for i in range(cfg.layers))
        self.attn = nn.Conv1d(c, 1, 1)
        self.out = nn.Linear(c, 1)

    @property
    def feature_channels(self) -> int:
        return 2 * self.scorer.cfg.n_mels + 4

    @torch.no_grad()
    def features(self, target: torch.Tensor, residual: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """target/residual [B, T] at the scorer's rate, text [B, D] -> features [B, feature_channels, F].

        Computed without gradients: they depend only on the frozen scorer, so training computes them once.
        """
        s = self.scorer
        mel_t, mel_m = s.mel(target), s.mel(target + residual)
        share = (10 * torch.log10((mel_t + 1e-8) / (mel_m + 1e-8))).clamp(-40, 10) / 20  # where the cut is made
        mix = torch.log(mel_m + 1e-6)
        mix = (mix - mix.mean(dim=(1, 2), keepdim=True)) / 5
        clip_t, frames_t = s.embeddings(target)
        clip_r, frames_r = s.embeddings(residual)
        per_frame = [torch.einsum("bfd,bd->bf", e, text) for e in (frames_t, frames_r)]  # [B, F] each
        n = min(frames_t.shape[1], -(-mel_t.shape[-1] // 4))
        pool = lambda x: F.avg_pool1d(x, 4, ceil_mode=True)[..., :n]  # noqa: E731  mel frames -> scorer frames
        whole = [(c * text).sum(-1)[:, None, None].expand(-1, 1, n) for c in (clip_t, clip_r)]
        return torch.cat([pool(share), pool(mix), per_frame[0][:, None, :n], per_frame[1][:, None, :n], *whole], 1)

    def forward(self, feats: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """features [G, K, C, F] of G groups of K candidates, text [G, D] -> scores [G, K] (higher: a better cut;
        only the ranking within a group means anything).

        Each candidate is also shown how it differs from its group's mean: candidates of one input differ subtly
        (a sharper mask, a paraphrase), and the differences are what decides between them.
        """
        g, k = feats.shape[:2]
        x = self.inp(torch.cat([feats, feats - feats.mean(1, keepdim=True)], 2).flatten(0, 1))
        films = self.film(text.repeat_interleave(k, 0)).chunk(2 * self.cfg.layers, dim=-1)
        for i, (norm, conv) in enumerate(zip(self.norms, self.convs, strict=True)):
            h = norm(x) * (1 + films[2 * i][..., None]) + films[2 * i + 1][..., None]
            x = x + conv(F.gelu(h))
        w = torch.softmax(self.attn(x), dim=-1)
        return self.out((x * w).sum(-1)).view(g, k)

    def score(self, targets: torch.Tensor, residuals: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The K candidates of one input: targets/residuals [K, T] at the scorer's rate, text [1, D] -> [K]."""
        feats = self.features(targets, residuals, text.expand(targets.shape[0], -1))
        return self(feats[None], text)[0]
