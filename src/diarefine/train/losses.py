"""The training objective of each refiner variant: ``LOSSES[variant](model, batch)`` ->
(total loss, named parts). A batch is (frames (B, W, C), static (B, S), offset (B,) in
seconds, NaN where spurious, matched (B,)), and for a model with an activity head also
(activity targets (B, W, 2), their weights (B, W, 2): 0 where unknown; a boolean mask is
taken as weights 1 / 0) (`diarefine.train.activity`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Batch = tuple[torch.Tensor, ...]
Loss = Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, dict[str, float]]]

#: Smooth L1's switch from quadratic to linear (seconds).
BETA = 0.02


def laplace_nll(target: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor
                ) -> torch.Tensor:
    """Negative log-likelihood of ``target`` under Laplace(mean, exp(log_scale)), up to a
    constant: the scale learns the expected absolute error of ``mean``."""
    return (torch.abs(target - mean) * torch.exp(-log_scale) + log_scale).mean()


def mlp_loss(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    frames, static, offset, matched = batch[:4]
    out = model(frames, static)
    keep = F.binary_cross_entropy_with_logits(out.keep, matched.float())
    if matched.any():
        target, mean = offset[matched], out.offset[matched]
        regression = F.smooth_l1_loss(mean, target, beta=BETA) / BETA
        scale = laplace_nll(target / BETA, mean.detach() / BETA, -out.confidence[matched])
    else:
        regression = scale = out.offset.sum() * 0.0
    total = regression + 0.1 * scale + 0.5 * keep
    return total, {"regression": float(regression.detach()), "scale": float(scale.detach()),
                   "keep": float(keep.detach())}


def true_frames(offset: torch.Tensor, rate: float, reach: int) -> torch.Tensor:
    """Where each matched correction lies among the 2 reach + 1 candidate frames
    (fractional index, clipped to the candidates)."""
    return (offset / rate + reach).clamp(0, 2 * reach)


def activity_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
                  ) -> torch.Tensor:
    """Binary cross-entropy of the activity logits (B, W, 2): the mean over the frames of a
    boolean mask, or the weighted mean over the frames of nonzero weight."""
    if weights.dtype == torch.bool:
        if not weights.any():
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[weights], target[weights])
    total = weights.sum()
    if total <= 0:
        return logits.sum() * 0.0
    each = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (each * weights).sum() / total


def transformer_loss(model: torch.nn.Module, batch: Batch
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of the candidate frames against a Gaussian target (sigma one
    frame) around the true place; binary cross-entropy of the keep logit; with an
    activity head, binary cross-entropy of each frame's activity of A and B."""
    frames, static, offset, matched = batch[:4]
    logits, keep_logit, activity = model.heads(model.encode(frames, static))
    keep = F.binary_cross_entropy_with_logits(keep_logit, matched.float())
    if matched.any():
        where = true_frames(offset[matched], model.spec.rate, model.reach)
        positions = torch.arange(logits.shape[1], dtype=torch.float32)
        target = torch.exp(-0.5 * (positions[None, :] - where[:, None]) ** 2)
        target = target / target.sum(dim=1, keepdim=True)
        locate = -(target * torch.log_softmax(logits[matched], dim=1)).sum(dim=1).mean()
    else:
        locate = logits.sum() * 0.0
    parts = {"locate": float(locate.detach()), "keep": float(keep.detach())}
    if activity is None:
        return locate + 0.5 * keep, parts
    if len(batch) < 6:
        raise ValueError("a refiner with an activity head needs activity targets")
    speech = activity_loss(activity, batch[4], batch[5])
    parts["activity"] = float(speech.detach())
    return locate + 0.5 * keep + speech, parts


def contrastive_loss(model: torch.nn.Module, batch: Batch
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """InfoNCE over the whole window: the frames within +-20 ms of the true place are the
    positives, every other frame a negative; binary cross-entropy of the keep logit."""
    frames, static, offset, matched = batch[:4]
    scores, keep_logit = model.scores(frames, static)
    keep = F.binary_cross_entropy_with_logits(keep_logit, matched.float())
    if matched.any():
        rate = model.spec.rate
        true = model.spec.centre + offset[matched] / rate  # fractional frame index
        positions = torch.arange(scores.shape[1], dtype=torch.float32)
        positive = (positions[None, :] - true[:, None]).abs() * rate <= 0.02 + 1e-6
        log_p = torch.log_softmax(scores[matched], dim=1)
        nce = -torch.logsumexp(log_p.masked_fill(~positive, float("-inf")), dim=1).mean()
    else:
        nce = scores.sum() * 0.0
    return nce + 0.5 * keep, {"nce": float(nce.detach()), "keep": float(keep.detach())}


def diffusion_loss(model: torch.nn.Module, batch: Batch
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """DDPM's simple loss (Ho et al. 2020, eq. 14): the noise added to the scaled
    correction at a random timestep, predicted from the noisy value and the encoding;
    binary cross-entropy of the keep logit."""
    frames, static, offset, matched = batch[:4]
    condition = model.encode(frames, static)
    keep = F.binary_cross_entropy_with_logits(model.keep_head(condition)[:, 0],
                                              matched.float())
    if matched.any():
        x0 = (offset[matched] / model.max_offset).clamp(-1, 1)
        t = torch.randint(0, model.timesteps, x0.shape)
        eps = torch.randn_like(x0)
        abar = model.abar[t].float()
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        denoise = F.mse_loss(model.eps(x_t, t, condition[matched]), eps)
    else:
        denoise = condition.sum() * 0.0
    return denoise + 0.5 * keep, {"denoise": float(denoise.detach()), "keep": float(keep.detach())}


LOSSES: dict[str, Loss] = {"mlp": mlp_loss, "transformer": transformer_loss,
                           "diffusion": diffusion_loss, "contrastive": contrastive_loss}
