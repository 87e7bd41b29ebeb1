"""V2 (Transformer) and V4 (contrastive): refiners that score every frame of the window
as the boundary's true place, instead of regressing the correction.

Both read the central ``±reach`` frames (the correction a reference boundary can need,
0.5 s) as candidates. The estimate is the best frame refined by the soft-argmax of its
``±2`` neighbours (sub-frame precision); the confidence is the probability mass there.

* `TransformerRefiner` (V2): the frames cut into patches of ``patch`` frames (80 ms),
  each projected to ``d`` dims with its position, with three more tokens (speaker A,
  speaker B, the flags), through a small Transformer encoder; a linear layer gives each
  patch token the logits of its ``patch`` frames (trained with cross-entropy on a
  Gaussian target of one frame around the true place) and the pooled tokens the keep
  logit. Patches keep it CPU-sized: 50 tokens instead of 200 (measured: 16x less
  attention, about 4x less time per batch).
* `ContrastiveRefiner` (V4): a dilated convolution stack embeds each frame; a query made
  from the pooled window and both speakers scores each candidate by a scaled dot product
  (trained with InfoNCE: the frames within ±20 ms of the true place positive, the rest of
  the window negative).
"""

from __future__ import annotations

import torch
from torch import nn

from diarefine.models.refiners.common import RefinerOutput, WindowSpec, split_static


def decode(logits: torch.Tensor, rate: float, reach: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate logits (B, 2 reach + 1) -> (correction in seconds (B,), confidence (B,))."""
    p = torch.softmax(logits, dim=1)
    best = p.argmax(dim=1)
    positions = torch.arange(logits.shape[1], device=logits.device)
    near = (positions[None, :] - best[:, None]).abs() <= 2
    mass = (p * near).sum(dim=1)
    where = (p * near * positions[None, :]).sum(dim=1) / mass.clamp_min(1e-9)
    return (where - reach) * rate, mass


class TransformerRefiner(nn.Module):
    def __init__(self, spec: WindowSpec = WindowSpec(), embedding_dim: int = 192,
                 d: int = 64, layers: int = 2, heads: int = 4, reach: int = 25,
                 patch: int = 4, dropout: float = 0.1, activity: bool = False) -> None:
        super().__init__()
        if spec.num_frames % patch:
            raise ValueError(f"patch {patch} does not divide {spec.num_frames} frames")
        self.spec, self.embedding_dim, self.reach, self.patch = spec, embedding_dim, reach, patch
        self.frames_in = nn.Conv1d(spec.channels, d, patch, stride=patch)
        self.position = nn.Parameter(torch.zeros(1, spec.num_frames // patch, d))
        nn.init.normal_(self.position, std=0.02)
        self.speaker_in = nn.Linear(embedding_dim, d)
        self.flags_in = nn.Linear(spec.static - 2 * embedding_dim, d)
        self.kind = nn.Parameter(torch.zeros(3, d))  # token types: A, B, flags
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.frame_head = nn.Linear(d, patch)
        self.keep_head = nn.Linear(d, 1)
        # per frame, whether A and B speak (`~diarefine.stages.refinement.activity`)
        self.activity_head = nn.Linear(d, 2 * patch) if activity else None

    def encode(self, frames: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """(B, W / patch + 3, d): the patch tokens, then A, B and the flags."""
        a, b, flags = split_static(static, self.embedding_dim)
        tokens = torch.stack([self.speaker_in(a), self.speaker_in(b), self.flags_in(flags)],
                             dim=1) + self.kind[None]
        patches = self.frames_in(frames.transpose(1, 2)).transpose(1, 2) + self.position
        return self.encoder(torch.cat([patches, tokens], dim=1))

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(candidate logits (B, 2 reach + 1), keep logit (B,), activity logits (B, W, 2)
        or None) of an encoding."""
        count = self.spec.num_frames // self.patch
        per_frame = self.frame_head(h[:, :count]).flatten(1)  # (B, W)
        c = self.spec.centre
        activity = None
        if self.activity_head is not None:
            activity = self.activity_head(h[:, :count]).reshape(len(h), -1, 2)
        return per_frame[:, c - self.reach: c + self.reach + 1], \
            self.keep_head(h.mean(dim=1))[:, 0], activity

    def logits(self, frames: torch.Tensor, static: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(candidate logits (B, 2 reach + 1), keep logit (B,))."""
        candidates, keep, _ = self.heads(self.encode(frames, static))
        return candidates, keep

    def activity(self, frames: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """(B, W, 2) probabilities that A and B speak at each frame."""
        return self.forward_with_activity(frames, static)[1]

    def forward(self, frames: torch.Tensor, static: torch.Tensor) -> RefinerOutput:
        frame_logits, keep = self.logits(frames, static)
        offset, confidence = decode(frame_logits, self.spec.rate, self.reach)
        return RefinerOutput(offset, confidence, keep)

    def forward_with_activity(self, frames: torch.Tensor, static: torch.Tensor
                              ) -> tuple[RefinerOutput, torch.Tensor]:
        """`forward` and `activity` from one pass of the encoder."""
        if self.activity_head is None:
            raise ValueError("this transformer refiner has no activity head")
        frame_logits, keep, activity = self.heads(self.encode(frames, static))
        offset, confidence = decode(frame_logits, self.spec.rate, self.reach)
        assert activity is not None
        return RefinerOutput(offset, confidence, keep), torch.sigmoid(activity)


class ContrastiveRefiner(nn.Module):
    def __init__(self, spec: WindowSpec = WindowSpec(), embedding_dim: int = 192,
                 d: int = 64, reach: int = 25, temperature: float = 0.1,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.spec, self.embedding_dim, self.reach = spec, embedding_dim, reach
        self.temperature = temperature
        convs: list[nn.Module] = [nn.Conv1d(spec.channels, d, 3, padding=1), nn.GELU()]
        for dilation in (1, 2, 4, 8):
            convs += [nn.Conv1d(d, d, 3, padding=dilation, dilation=dilation), nn.GELU(),
                      nn.Dropout(dropout)]
        self.frames = nn.Sequential(*convs, nn.Conv1d(d, d, 1))
        flags = spec.static - 2 * embedding_dim
        self.query = nn.Sequential(nn.Linear(d + 2 * 32 + flags, 2 * d), nn.GELU(),
                                   nn.Linear(2 * d, d))
        self.speaker_in = nn.Linear(embedding_dim, 32)
        self.keep_head = nn.Linear(d + 2 * 32 + flags, 1)

    def scores(self, frames: torch.Tensor, static: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores of every window frame (B, W), keep logit (B,))."""
        e = self.frames(frames.transpose(1, 2)).transpose(1, 2)  # (B, W, d)
        a, b, flags = split_static(static, self.embedding_dim)
        context = torch.cat([e.mean(dim=1), self.speaker_in(a), self.speaker_in(b), flags], 1)
        q = self.query(context)
        e = nn.functional.normalize(e, dim=2)
        q = nn.functional.normalize(q, dim=1)
        return (e @ q[:, :, None])[..., 0] / self.temperature, self.keep_head(context)[:, 0]

    def forward(self, frames: torch.Tensor, static: torch.Tensor) -> RefinerOutput:
        scores, keep = self.scores(frames, static)
        c = self.spec.centre
        offset, confidence = decode(scores[:, c - self.reach: c + self.reach + 1],
                                    self.spec.rate, self.reach)
        return RefinerOutput(offset, confidence, keep)
