"""A small CLAP-style audio-text model: an audio encoder projected onto the frozen prompt embedding space.

Why it exists: reranking needs a judge that knows both audio and text. It scores a separated target against the
prompt (cosine similarity of embeddings), and its per-frame embeddings say *when* the prompted sound is active.
It is trained contrastively on the training corpus (train/scorer.py) against the same frozen MiniLM embeddings
that condition the separator, so no second text encoder is needed.
"""

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from lasso.config import ScorerConfig


class AudioTextScorer(nn.Module):
    def __init__(self, cfg: ScorerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop,
                                                        n_mels=cfg.n_mels, power=2.0)
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv1d(cfg.n_mels, c, 3, padding=1)]
        for i in range(cfg.layers):
            stride = 2 if i % 2 == 1 and i < 4 else 1
            layers += [nn.GroupNorm(1, c), nn.GELU(), nn.Conv1d(c, c, 3, stride=stride, padding=1)]
        self.encoder = nn.Sequential(*layers)
        self.attn = nn.Conv1d(c, 1, 1)  # attention pooling: loud, characteristic frames weigh more than silence
        self.proj = nn.Linear(c, cfg.text_dim)
        self.logit_scale = nn.Parameter(torch.tensor(2.7))  # exp(2.7) ~ 15, CLIP's usual start

    def frames(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, T] -> frame features [B, C, F]."""
        feats = torch.log(self.mel(wav) + 1e-6)  # [B, mels, frames]
        feats = feats - feats.mean(dim=(1, 2), keepdim=True)  # gain invariance
        return self.encoder(feats)

    def embeddings(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wav [B, T] -> L2-normalised clip embeddings [B, text_dim] and per-frame ones [B, F, text_dim]
        (F = T / (hop * 4)), from one pass of the encoder."""
        h = self.frames(wav)
        w = torch.softmax(self.attn(h), dim=-1)  # [B, 1, F]
        return F.normalize(self.proj((h * w).sum(-1)), dim=-1), F.normalize(self.proj(h.transpose(1, 2)), dim=-1)

    def embed_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, T] -> L2-normalised clip embeddings [B, text_dim]."""
        return self.embeddings(wav)[0]

    def score(self, wav: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each clip [B, T] with its prompt embedding [B, text_dim] -> [B]."""
        return (self.embed_audio(wav) * text).sum(-1)
