"""LassoNet: a text-conditioned time-frequency mask network.

Why this shape: a 2-D U-Net (AudioSep) is too slow for 50x real time on two CPU cores, so the spectrogram is read
one frame at a time (a linear map over all 257 bins, which can learn any spectral pattern) and context comes from a
stack of dilated temporal convolutions at half the frame rate, each modulated by FiLM from the prompt embedding.
A per-frame span input (unknown / present / absent) is added to the features so users can say *where* the
target sounds. The network predicts a mask in [0, 1]; the residual is always mixture - target, so the two outputs
sum to the input exactly.
"""

import torch
from torch import nn
from torch.nn import functional as F

from lasso.config import ModelConfig

LEVEL_OFFSET = -4.5  # typical mean log-magnitude of a mixture: centres the input of `norm="frame"` models


class FrameNorm(nn.Module):
    """LayerNorm over channels at each frame: unlike GroupNorm(1, C) it never pools over time, so the output for a
    frame does not depend on how long the input is (inference then needs no overlapping windows). Parameters have
    GroupNorm's names and shapes, so a `global` checkpoint initialises a `frame` model."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, C, T]
        return F.layer_norm(x.transpose(1, 2), x.shape[1:2], self.weight, self.bias).transpose(1, 2)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "frame":
        return FrameNorm(channels)
    if kind == "global":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"norm must be 'global' or 'frame', got {kind!r}")


class FiLMBlock(nn.Module):
    """Residual dilated depthwise-separable conv block whose hidden features are scaled and shifted by the prompt."""

    def __init__(self, channels: int, hidden: int, dilation: int, norm: str = "global") -> None:
        super().__init__()
        self.norm_in = make_norm(norm, channels)
        self.expand = nn.Conv1d(channels, hidden, 1)
        self.film = nn.Linear(channels, 2 * hidden)
        self.depthwise = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation, groups=hidden)
        self.norm_mid = make_norm(norm, hidden)
        self.project = nn.Conv1d(hidden, channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # x: [B, C, T], cond: [B, C]
        gamma, beta = self.film(cond).unsqueeze(-1).chunk(2, dim=1)  # [B, H, 1] each
        h = self.expand(self.norm_in(x))
        h = F.gelu(h * (1 + gamma) + beta)
        h = F.gelu(self.norm_mid(self.depthwise(h)))
        return x + self.project(h)


class LassoNet(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bins = cfg.n_fft // 2 + 1
        c = cfg.channels
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, c), nn.GELU(), nn.Linear(c, c))
        self.span_embed = nn.Embedding(cfg.span_states, c)
        self.inp = nn.Conv1d(bins, c, cfg.time_stride, stride=cfg.time_stride)
        self.skip = nn.Conv1d(bins, c, 1)
        self.blocks = nn.ModuleList(
            FiLMBlock(c, cfg.hidden, 2 ** (i % cfg.dilation_cycle), cfg.norm) for i in range(cfg.blocks)
        )
        self.norm_out = make_norm(cfg.norm, c)
        self.head = nn.Conv1d(c, bins, 3, padding=1)

    # -- STFT helpers, shared by training, inference and the oracle mask in evaluation --------------------------
    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, T] -> complex spectrogram [B, bins, frames]."""
        return torch.stft(wav, self.cfg.n_fft, self.cfg.hop, window=self.window, return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.cfg.n_fft, self.cfg.hop, window=self.window, length=length)

    def frames(self, num_samples: int) -> int:
        return num_samples // self.cfg.hop + 1

    @property
    def length_independent(self) -> bool:
        """True when a frame's mask does not depend on the input's length (no normalisation pools over time)."""
        return self.cfg.norm == "frame"

    # -- the network ---------------------------------------------------------------------------------------------
    def estimate_mask(self, mag: torch.Tensor, text: torch.Tensor, spans: torch.Tensor | None = None) -> torch.Tensor:
        """mag [B, bins, T] (linear magnitude), text [B, text_dim], spans [B, T] int or None -> mask [B, bins, T]."""
        b, _, t = mag.shape
        s = self.cfg.time_stride
        feats = torch.log(mag + 1e-4)
        # frame: a fixed centre (training mixes levels over 20 dB, so gain is learnt); global: level invariance from
        # the whole input's mean, which makes the output depend on the input's length
        centre = LEVEL_OFFSET if self.length_independent else feats.mean(dim=(1, 2), keepdim=True)
        feats = feats - centre
        pad = (-t) % s
        cond = self.text_proj(text)  # [B, C]
        if spans is None:
            spans = torch.zeros(b, t, dtype=torch.long, device=mag.device)
        span_feats = self.span_embed(spans).transpose(1, 2)  # [B, C, T]
        x = self.inp(F.pad(feats, (0, pad)))  # [B, C, ceil(T/s)]
        x = x + F.avg_pool1d(F.pad(span_feats, (0, pad)), s) + cond.unsqueeze(-1)
        for block in self.blocks:
            x = block(x, cond)
        x = x.repeat_interleave(s, dim=-1)[..., :t]  # back to the STFT frame rate
        x = self.norm_out(x + self.skip(feats) + span_feats)
        mask = torch.sigmoid(self.head(F.gelu(x)))
        assert mask.shape == mag.shape
        return mask

    def forward(self, wav: torch.Tensor, text: torch.Tensor, spans: torch.Tensor | None = None) -> torch.Tensor:
        """wav [B, T] at cfg.sample_rate -> target estimate [B, T]."""
        spec = self.stft(wav)
        mask = self.estimate_mask(spec.abs(), text, spans)
        return self.istft(spec * mask, wav.shape[-1])
