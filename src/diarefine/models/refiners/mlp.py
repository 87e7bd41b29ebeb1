"""V1: a multi-layer perceptron on pooled window features and both speakers' embeddings.

Input: the central ``±centre_frames`` frames at full resolution, the whole window
mean-pooled in ``segments`` segments, both centroids projected to ``embed`` dims, and the
flags. Heads: the correction (seconds, trained with Smooth L1), a log-scale of its error
(Laplace likelihood on the detached correction: confidence = -log scale), and the keep
logit (binary cross-entropy).
"""

from __future__ import annotations

import torch
from torch import nn

from diarefine.models.refiners.common import RefinerOutput, WindowSpec, split_static


class MLPRefiner(nn.Module):
    def __init__(self, spec: WindowSpec = WindowSpec(), embedding_dim: int = 192,
                 hidden: int = 256, centre_frames: int = 25, segments: int = 10,
                 embed: int = 32, dropout: float = 0.1, max_offset: float = 0.5) -> None:
        super().__init__()
        self.spec, self.embedding_dim = spec, embedding_dim
        self.centre_frames, self.segments, self.max_offset = centre_frames, segments, max_offset
        self.project = nn.Linear(embedding_dim, embed)
        flags = spec.static - 2 * embedding_dim
        width = (2 * centre_frames + segments) * spec.channels + 2 * embed + flags
        self.trunk = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, 3)  # offset, log-scale, keep

    def encode(self, frames: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """frames (B, W, C), static (B, S) -> (B, hidden)."""
        c, k = self.spec.centre, self.centre_frames
        centre = frames[:, c - k: c + k].flatten(1)
        usable = frames.shape[1] // self.segments * self.segments
        pooled = frames[:, :usable].reshape(len(frames), self.segments, -1,
                                            frames.shape[2]).mean(2).flatten(1)
        a, b, flags = split_static(static, self.embedding_dim)
        return self.trunk(torch.cat([centre, pooled, self.project(a), self.project(b),
                                     flags], dim=1))

    def forward(self, frames: torch.Tensor, static: torch.Tensor) -> RefinerOutput:
        out = self.head(self.encode(frames, static))
        offset = self.max_offset * torch.tanh(out[:, 0])
        return RefinerOutput(offset, -out[:, 1], out[:, 2])

    def log_scale(self, output: RefinerOutput) -> torch.Tensor:
        return -output.confidence
