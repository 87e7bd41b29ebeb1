"""PyanNet speaker segmentation (the architecture of pyannote segmentation-3.0), in torch.

SincNet front end -> bidirectional LSTM stack -> feed-forward layers -> powerset classifier
with a log-softmax. Module and parameter names are those of the pretrained checkpoint's
state dict so that it loads strictly. Inference only: the learnable sinc filters are
rebuilt from their parameters when these change (cheap: 80 x 251 taps).

Powerset classes (3 local speakers, at most 2 at once), in checkpoint order:
``{}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}``; see `powerset_mapping`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PyanNetSegmentation", "SincNet", "powerset_mapping", "powerset_to_multilabel",
           "shallower"]


class SincFilterbank(nn.Module):
    """Band-pass sinc filters (cosine and sine halves) parameterized by low cut-off and width.

    Holds ``low_hz_`` and ``band_hz_`` (num_bands, 1), a half Hamming window ``window_``
    (half_kernel,) and the half time axis ``n_ = 2 pi t`` (1, half_kernel).
    """

    window_: torch.Tensor
    n_: torch.Tensor

    def __init__(self, num_filters: int = 80, kernel_size: int = 251, sample_rate: int = 16000,
                 min_low_hz: float = 50.0, min_band_hz: float = 50.0) -> None:
        super().__init__()
        self.num_bands = num_filters // 2
        self.kernel_size = kernel_size
        self.sample_rate = sample_rate
        self.min_low_hz, self.min_band_hz = min_low_hz, min_band_hz
        half = kernel_size // 2
        self.low_hz_ = nn.Parameter(torch.zeros(self.num_bands, 1))
        self.band_hz_ = nn.Parameter(torch.zeros(self.num_bands, 1))
        self.register_buffer("window_", torch.hamming_window(kernel_size, periodic=False)[:half])
        t = torch.arange(-half, 0, dtype=torch.float32).view(1, -1) / sample_rate
        self.register_buffer("n_", 2.0 * math.pi * t)
        self._cached: tuple[tuple, torch.Tensor] | None = None

    def filters(self) -> torch.Tensor:
        """Filter taps. Shape: (2 * num_bands, 1, kernel_size); cosine bands first.

        Without autograd the taps are kept and reused until a parameter or buffer changes
        (in place or by reassignment), so inference does not rebuild them for every call.
        """
        if torch.is_grad_enabled():
            return self._build()
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device)
                    for t in (self.low_hz_, self.band_hz_, self.window_, self.n_))
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._build())
        return self._cached[1]

    def _build(self) -> torch.Tensor:
        low = self.min_low_hz + self.low_hz_.abs()
        high = torch.clamp(low + self.min_band_hz + self.band_hz_.abs(),
                           self.min_low_hz, self.sample_rate / 2)
        band = high - low  # (num_bands, 1)
        arg_low, arg_high = low @ self.n_, high @ self.n_  # (num_bands, half)
        half_t = self.n_ / 2
        even = (torch.sin(arg_high) - torch.sin(arg_low)) / half_t * self.window_
        odd = (torch.cos(arg_low) - torch.cos(arg_high)) / half_t * self.window_
        even = torch.cat([even, 2 * band, even.flip(1)], dim=1)
        odd = torch.cat([odd, torch.zeros_like(band), -odd.flip(1)], dim=1)
        taps = torch.cat([even, odd], dim=0) / (2 * torch.cat([band, band], dim=0))
        return taps.unsqueeze(1)


class SincEncoder(nn.Module):
    """Strided convolution of a waveform with a `SincFilterbank`. (B, 1, N) -> (B, 80, N')."""

    def __init__(self, filterbank: SincFilterbank, stride: int) -> None:
        super().__init__()
        self.filterbank = filterbank
        self.stride = stride

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return F.conv1d(waveforms, self.filterbank.filters(), stride=self.stride)


class SincNet(nn.Module):
    """Waveform front end: instance norm, sinc conv, two convs, each max-pooled by 3.

    Shape: (B, 1, N) -> (B, 60, F).
    """

    #: (kernel, stride) of every sliding operation, first to last, stride of the sinc conv
    #: excluded (it is ``self.stride``).
    KERNELS = (251, 3, 5, 3, 5, 3)

    def __init__(self, sample_rate: int = 16000, stride: int = 10) -> None:
        super().__init__()
        if sample_rate != 16000:
            raise ValueError("SincNet is defined for 16 kHz audio only")
        self.stride = stride
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        self.conv1d = nn.ModuleList([
            SincEncoder(SincFilterbank(80, 251, sample_rate), stride),
            nn.Conv1d(80, 60, 5),
            nn.Conv1d(60, 60, 5),
        ])
        self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
        self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c, affine=True) for c in (80, 60, 60)])

    def strides(self) -> tuple[int, ...]:
        return (self.stride, 3, 1, 3, 1, 3)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.after_sinc(self.conv1d[0](self.wav_norm1d(waveforms)))

    def after_sinc(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the sinc convolution. Shape: (B, 80, N') -> (B, 60, F)."""
        for index, (pool, norm) in enumerate(zip(self.pool1d, self.norm1d)):
            if index == 0:
                x = x.abs()
            else:
                x = self.conv1d[index](x)
            x = F.leaky_relu(norm(pool(x)))
        return x

    def sinc_of_chunks(self, recording: torch.Tensor, step: int, count: int, length: int,
                       convolve: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       out: torch.Tensor | None = None) -> torch.Tensor:
        """The sinc convolution of the *normalised* chunks ``recording[c*step : c*step +
        length]``, ``c < count``, from one convolution of the un-normalised recording.

        The input instance norm is affine per chunk, ``y = g (x - m) / s + b``, and the
        convolution is linear, so ``conv(y) = (g / s) conv(x) + (b - g m / s) sum(taps)``:
        overlapping chunks share the (dominant) cost of the convolution. ``step`` must be a
        multiple of the stride. ``convolve`` (1, 1, N) -> (1, 80, N'') replaces the sinc
        convolution itself (another backend). ``out``, a contiguous buffer: when it holds
        enough elements, the result is written at its start (a view of it is returned),
        else a fresh tensor is returned, which the caller may keep as its next buffer. A
        caller that keeps one for every call spares the allocation of a large, fresh
        result (about 46 MB per 9 chunks), whose first touch by page faults cost three
        times the arithmetic here. Shape: recording (N,) -> (count, 80, N').
        """
        stride = self.stride
        if step % stride:
            raise ValueError(f"chunk step must be a multiple of {stride} samples")
        taps = self.conv1d[0].filterbank.filters()
        span = (count - 1) * step + length
        signal = recording[:span].view(1, 1, -1)
        full = (convolve(signal) if convolve is not None
                else F.conv1d(signal, taps, stride=stride))[0]  # (80, N'')
        frames = (length - taps.shape[-1]) // stride + 1
        conv = full.unfold(1, frames, step // stride)[:, :count].transpose(0, 1)
        x = recording[:span].double()
        sums, squares = torch.cumsum(x, 0), torch.cumsum(x * x, 0)
        begin = torch.arange(count, device=x.device) * step
        # a chunk's sum is the cumulative sum at its last sample minus the one before its
        # first (none for the first chunk): no zero-padded copy of the cumulative sums
        last, before = begin + length - 1, (begin - 1).clamp_min(0)
        inside = (begin > 0).double()
        mean = (sums[last] - inside * sums[before]) / length
        var = ((squares[last] - inside * squares[before]) / length - mean**2).clamp_min(0)
        norm = self.wav_norm1d
        scale = (norm.weight.double() / torch.sqrt(var + norm.eps)).float()
        shift = (norm.bias.double() - scale.double() * mean).float()
        offset = shift[:, None, None] * taps.sum(dim=-1)[None]
        if out is None or out.numel() < conv.numel():
            return torch.addcmul(offset, scale[:, None, None], conv)
        target = out.view(-1)[: conv.numel()].view(conv.shape)
        return torch.addcmul(offset, scale[:, None, None], conv, out=target)


class PyanNetSegmentation(nn.Module):
    """Frame-level powerset speaker segmentation of fixed-length chunks.

    Parameters
    ----------
    num_classes
        Size of the powerset output (7 for 3 speakers, at most 2 at once).
    sample_rate, sinc_stride
        Waveform rate (16 kHz only) and stride of the sinc convolution.
    lstm_hidden, lstm_layers, bidirectional
        One monolithic ``nn.LSTM`` stack (batch first).
    linear_hidden, linear_layers
        Feed-forward layers (leaky ReLU) between the LSTM and the classifier.

    Shapes: ``forward``: (B, 1, N) -> (B, F, num_classes) log-probabilities (log-softmax),
    with ``F = num_frames(N)`` (589 for 10 s at 16 kHz).
    """

    def __init__(self, num_classes: int = 7, sample_rate: int = 16000, sinc_stride: int = 10,
                 lstm_hidden: int = 128, lstm_layers: int = 4, bidirectional: bool = True,
                 linear_hidden: int = 128, linear_layers: int = 2) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.num_classes = num_classes
        self.sincnet = SincNet(sample_rate, sinc_stride)
        self.lstm = nn.LSTM(60, lstm_hidden, num_layers=lstm_layers, batch_first=True,
                            bidirectional=bidirectional)
        width = lstm_hidden * (2 if bidirectional else 1)
        sizes = [width] + [linear_hidden] * linear_layers
        self.linear = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.classifier = nn.Linear(sizes[-1], num_classes)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Powerset log-probabilities. Shape: (B, 1, N) -> (B, F, num_classes)."""
        if waveforms.dim() == 2:
            waveforms = waveforms.unsqueeze(1)
        return self.from_sinc(self.sincnet.conv1d[0](self.sincnet.wav_norm1d(waveforms)))

    def chunks_of(self, recording: torch.Tensor, step: int, count: int,
                  length: int) -> torch.Tensor:
        """``forward`` of the chunks ``recording[c*step : c*step + length]``, ``c < count``,
        sharing the sinc convolution between overlapping chunks (see
        `SincNet.sinc_of_chunks`). Shape: (N,) -> (count, F, num_classes)."""
        return self.from_sinc(self.sincnet.sinc_of_chunks(recording, step, count, length))

    def from_sinc(self, sinc: torch.Tensor) -> torch.Tensor:
        """The network after the sinc convolution. Shape: (B, 80, N') -> (B, F, classes)."""
        return self.from_features(self.sincnet.after_sinc(sinc))

    def example_sinc(self, length: int, count: int = 2) -> torch.Tensor:
        """The sinc convolution of ``count`` chunks of ``length`` samples of a fixed random
        waveform (count, 80, N'): an input like real ones for checking another backend
        against torch. Standard normal features would not do: on them (8x the spread of
        SincNet's output) the LSTM is chaotic and any two kernels part ways."""
        stride = self.sincnet.stride
        noise = torch.randn(length + (count - 1) * stride,
                            generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            sinc = self.sincnet.sinc_of_chunks(noise, stride, count, length)
        return sinc.clone()  # a normal tensor (tracing and exporting refuse inference ones)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """The network after SincNet. Shape: (B, 60, F) -> (B, F, classes)."""
        x, _ = self.lstm(features.transpose(1, 2))
        for layer in self.linear:
            x = F.leaky_relu(layer(x))
        return F.log_softmax(self.classifier(x), dim=-1)

    # --- frame grid (pure arithmetic on the sliding operations, in samples) ----------------
    def _layers(self) -> list[tuple[int, int]]:
        return list(zip(SincNet.KERNELS, self.sincnet.strides()))

    def num_frames(self, num_samples: int) -> int:
        """Output frames for a chunk of ``num_samples`` samples."""
        n = num_samples
        for kernel, stride in self._layers():
            n = 1 + (n - kernel) // stride
        return max(n, 0)

    def receptive_field(self, num_frames: int = 1) -> int:
        """Samples seen by ``num_frames`` consecutive output frames."""
        size = num_frames
        for kernel, stride in reversed(self._layers()):
            size = kernel + (size - 1) * stride
        return size

    def frame_step_samples(self) -> int:
        """Samples between the receptive fields of consecutive frames."""
        return self.receptive_field(2) - self.receptive_field(1)


def shallower(teacher: PyanNetSegmentation, lstm_layers: int) -> PyanNetSegmentation:
    """A copy of ``teacher`` with only its first ``lstm_layers`` LSTM layers (a start for a
    distilled student): SincNet, those LSTM layers and the feed-forward and classifier
    layers copied (the latter now read the last kept LSTM layer, of the same width)."""
    lstm = teacher.lstm
    if not 1 <= lstm_layers <= lstm.num_layers:
        raise ValueError(f"lstm_layers must be in 1..{lstm.num_layers}, not {lstm_layers}")
    student = PyanNetSegmentation(
        num_classes=teacher.num_classes, sample_rate=teacher.sample_rate,
        sinc_stride=teacher.sincnet.stride, lstm_hidden=lstm.hidden_size,
        lstm_layers=lstm_layers, bidirectional=lstm.bidirectional,
        linear_hidden=teacher.linear[0].out_features if len(teacher.linear) else 0,
        linear_layers=len(teacher.linear))
    kept = {k: v for k, v in teacher.state_dict().items()
            if not k.startswith("lstm.") or int(k.split("_l")[1].split("_")[0]) < lstm_layers}
    student.load_state_dict(kept, strict=True)
    return student.train(teacher.training)


def powerset_mapping(num_speakers: int = 3, max_simultaneous: int = 2) -> torch.Tensor:
    """Which speakers each powerset class contains, classes ordered by size then index.

    Shape: (num_classes, num_speakers), 0/1 float; for (3, 2) the rows are
    ``{}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}``.
    """
    rows = []
    for size in range(max_simultaneous + 1):
        for members in combinations(range(num_speakers), size):
            row = torch.zeros(num_speakers)
            row[list(members)] = 1.0
            rows.append(row)
    return torch.stack(rows)


def powerset_to_multilabel(log_probs: torch.Tensor, mapping: torch.Tensor | None = None,
                           soft: bool = False) -> torch.Tensor:
    """Per-speaker activity from powerset scores.

    ``soft=False`` takes the most likely class per frame (0/1 activities, as pyannote);
    ``soft=True`` gives each speaker's marginal probability (sum of its classes' probs).

    Shape: (B, F, num_classes) -> (B, F, num_speakers).
    """
    if mapping is None:
        mapping = powerset_mapping()
    mapping = mapping.to(device=log_probs.device, dtype=log_probs.dtype)
    if soft:
        return log_probs.exp() @ mapping
    return mapping[log_probs.argmax(dim=-1)]
