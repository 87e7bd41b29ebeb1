"""V3: the boundary correction denoised from noise, conditioned on the window's encoding.

DDPM (Ho et al. 2020) on the scalar ``x0 = correction / max_offset``: with the variance
schedule ``beta_t`` (cosine, T steps, `cosine_schedule`) and ``abar_t = prod_{s<=t} (1 - beta_s)``,

    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,   eps ~ N(0, 1)            (Ho eq. 4)

and the network predicts ``eps`` from ``(x_t, t, condition)`` (loss: mean squared error,
Ho eq. 14, in :mod:`diarefine.train.losses`). Sampling is DDIM's deterministic update
(Song et al. 2021, eq. 12 with sigma = 0) on a few of the T steps ``tau_1 > ... > tau_S``:

    x0_hat = (x_tau - sqrt(1 - abar_tau) eps_hat) / sqrt(abar_tau)   (clipped to [-1, 1])
    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps_hat

Several samples per boundary give the estimate (their median) and the confidence (minus
the log of their interquartile range). The condition is the MLP refiner's encoding of the
window (`~diarefine.models.refiners.mlp.MLPRefiner.encode`), which also gives the keep
logit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from diarefine.models.refiners.common import RefinerOutput, WindowSpec
from diarefine.models.refiners.mlp import MLPRefiner

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> eps_hat


def cosine_schedule(steps: int, s: float = 0.008) -> torch.Tensor:
    """``abar_t`` for t = 1..T (index t - 1), float64: Nichol & Dhariwal's (2021, eq. 17)
    cosine schedule, whose ``abar_T`` is 0 for any T (x_T is pure noise, as the sampler's
    start assumes; DDPM's linear schedule reaches that only with T near 1000), betas
    clipped at 0.999."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def ddim_sample(denoiser: Denoiser, noise: torch.Tensor, abar: torch.Tensor,
                steps: int, clip: float | None = 1.0) -> torch.Tensor:
    """DDIM (sigma = 0) from ``noise`` = x_T through ``steps`` evenly spaced timesteps;
    ``denoiser(x_t, t)`` predicts eps at integer timestep(s) t in [0, T). With ``clip``,
    each x0_hat is clipped to the data's range [-clip, clip] and eps_hat made consistent
    with it (as DDPM's sampler does): near t = T, sqrt(abar) is tiny and dividing by it
    would blow up the denoiser's smallest error."""
    total = len(abar)
    taus = torch.linspace(total - 1, 0, steps).round().long().tolist()
    x = noise.double()
    for k, tau in enumerate(taus):
        a = abar[tau]
        eps = denoiser(x.float(), torch.full(x.shape[:1], tau, dtype=torch.long)).double()
        x0 = (x - torch.sqrt(1 - a) * eps) / torch.sqrt(a)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
            eps = (x - torch.sqrt(a) * x0) / torch.sqrt(1 - a)
        a_prev = abar[taus[k + 1]] if k + 1 < len(taus) else torch.tensor(1.0, dtype=a.dtype)
        x = torch.sqrt(a_prev) * x0 + torch.sqrt(1 - a_prev) * eps
    return x.float()


def timestep_embedding(t: torch.Tensor, dim: int, total: int) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of integer timesteps."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, dtype=torch.float32) / half)
    angles = (t.float()[:, None] / total * 1000) * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class DiffusionRefiner(nn.Module):
    def __init__(self, spec: WindowSpec = WindowSpec(), embedding_dim: int = 192,
                 hidden: int = 256, denoiser_hidden: int = 128, timesteps: int = 200,
                 sample_steps: int = 20, samples: int = 16, max_offset: float = 0.5,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.spec, self.max_offset = spec, max_offset
        self.timesteps, self.sample_steps, self.samples = timesteps, sample_steps, samples
        self.encoder = MLPRefiner(spec, embedding_dim, hidden, dropout=dropout)
        self.encoder.head = nn.Identity()  # only its encoding is used
        self.keep_head = nn.Linear(hidden, 1)
        self.time_dim = 32
        self.denoiser = nn.Sequential(
            nn.Linear(hidden + self.time_dim + 1, denoiser_hidden), nn.SiLU(),
            nn.Linear(denoiser_hidden, denoiser_hidden), nn.SiLU(),
            nn.Linear(denoiser_hidden, 1))
        self.register_buffer("abar", cosine_schedule(timesteps), persistent=False)

    def eps(self, x_t: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Predicted noise (B,) of x_t (B,) at timesteps t (B,) given the encoding."""
        inputs = torch.cat([condition, timestep_embedding(t, self.time_dim, self.timesteps),
                            x_t[:, None]], dim=1)
        return self.denoiser(inputs)[:, 0]

    def encode(self, frames: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode(frames, static)

    def forward(self, frames: torch.Tensor, static: torch.Tensor) -> RefinerOutput:
        condition = self.encode(frames, static)
        n, k = len(condition), self.samples
        repeated = condition.repeat_interleave(k, dim=0)
        generator = torch.Generator().manual_seed(0)  # the same samples for the same input
        noise = torch.randn(n * k, generator=generator)
        x0 = ddim_sample(lambda x, t: self.eps(x, t, repeated), noise, self.abar,
                         self.sample_steps).clamp(-1, 1).reshape(n, k) * self.max_offset
        q = torch.quantile(x0, torch.tensor([0.25, 0.5, 0.75]), dim=1)
        spread = (q[2] - q[0]).clamp_min(1e-4)
        return RefinerOutput(q[1], -torch.log(spread), self.keep_head(condition)[:, 0])
