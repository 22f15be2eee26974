"""Training objective: thresholded SNR of the target estimate (Wisdom et al., MixIT).

Why: it is the quantity we report (AudioSep's SDR is plain SNR), and the threshold term tau*|mixture|^2 keeps it
defined when the prompted sound is absent (the target is silence): then the loss simply pushes the estimate's energy
down relative to the mixture. The residual's error equals the target's (residual = mixture - target), so one term
covers both outputs.
"""

import torch

SNR_MAX_DB = 30.0


def thresholded_snr_loss(est: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -SNR(target, est) in dB, soft-capped at SNR_MAX_DB; [B, T] inputs -> scalar."""
    tau = 10 ** (-SNR_MAX_DB / 10)
    ref = mixture.pow(2).sum(-1) * tau + 1e-8
    err = (target - est).pow(2).sum(-1)
    return (10 * torch.log10(err + ref) - 10 * torch.log10(target.pow(2).sum(-1) + ref)).mean()
