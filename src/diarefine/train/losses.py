"""The training objective of each refiner variant: ``LOSSES[variant](model, batch)`` ->
(total loss, named parts). A batch is (frames (B, W, C), static (B, S), offset (B,) in
seconds, NaN where spurious, matched (B,))."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
Loss = Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, dict[str, float]]]

#: Smooth L1's switch from quadratic to linear (seconds).
BETA = 0.02


def laplace_nll(target: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor
                ) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under Laplace(mean, exp(log_scale)), up to a
    constant: the scale learns the expected absolute error of ``mean``."""
    return (torch.abs(target - mean) * torch.exp(-log_scale) + log_scale).mean()


def mlp_loss(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    frames, static, offset, matched = batch
    out = model(frames, static)
    keep = F.binary_cross_entropy_with_logits(out.keep, matched.float())
    if matched.any():
        target, mean = offset[matched], out.offset[matched]
        regression = F.smooth_l1_loss(mean, target, beta=BETA) / BETA
        scale = laplace_nll(target / BETA, mean.detach() / BETA, -out.confidence[matched])
    else:
        regression = scale = out.offset.sum() * 0.0
    total = regression + 0.1 * scale + 0.5 * keep
    return total, {"regression": float(regression), "scale": float(scale), "keep": float(keep)}


LOSSES: dict[str, Loss] = {"mlp": mlp_loss}
