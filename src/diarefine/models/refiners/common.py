"""What every refiner module shares: the window it reads and what it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class WindowSpec:
    """The input layout: ``num_frames`` frames of ``channels`` features every ``rate``
    seconds, frame ``num_frames // 2`` on the boundary; ``static`` features per boundary."""

    num_frames: int = 200
    channels: int = 17
    rate: float = 0.02
    static: int = 391

    @property
    def centre(self) -> int:
        return self.num_frames // 2


@dataclass
class RefinerOutput:
    """``offset`` (B,) seconds to add to the boundary; ``confidence`` (B,); ``keep``
    (B,) logit that the boundary has a reference partner (zeros if not modelled)."""

    offset: torch.Tensor
    confidence: torch.Tensor
    keep: torch.Tensor


def split_static(static: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor,
                                                          torch.Tensor]:
    """(B, 2D + 7) -> centroid A (B, D), centroid B (B, D), flags (B, 7)."""
    return static[:, :dim], static[:, dim:2 * dim], static[:, 2 * dim:]


def predict(model: torch.nn.Module, frames: np.ndarray, static: np.ndarray, batch: int = 256
            ) -> tuple[np.ndarray, np.ndarray]:
    """(corrections (n,) in seconds, float64; confidences (n,)) of windows (n, W, C) and
    static features (n, S), in eval mode and batches of ``batch``."""
    model.eval()
    offsets, confidences = [], []
    with torch.inference_mode():
        for i in range(0, len(frames), batch):
            out = model(torch.from_numpy(np.asarray(frames[i:i + batch], dtype=np.float32)),
                        torch.from_numpy(np.asarray(static[i:i + batch], dtype=np.float32)))
            offsets.append(out.offset.numpy())
            confidences.append(out.confidence.numpy())
    if not offsets:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(offsets).astype(np.float64), np.concatenate(confidences)


def predict_with_activity(model: torch.nn.Module, frames: np.ndarray, static: np.ndarray,
                          batch: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`predict` and the activity head's probabilities (n, W, 2) float32 that A and B
    speak at each frame, from one pass (a model without the head: ``ValueError``)."""
    model.eval()
    offsets, confidences, probs = [], [], []
    with torch.inference_mode():
        for i in range(0, len(frames), batch):
            out, activity = model.forward_with_activity(  # type: ignore[operator]
                torch.from_numpy(np.asarray(frames[i:i + batch], dtype=np.float32)),
                torch.from_numpy(np.asarray(static[i:i + batch], dtype=np.float32)))
            offsets.append(out.offset.numpy())
            confidences.append(out.confidence.numpy())
            probs.append(activity.numpy())
    if not offsets:
        return np.zeros(0), np.zeros(0), np.zeros((0, frames.shape[1], 2), np.float32)
    return (np.concatenate(offsets).astype(np.float64), np.concatenate(confidences),
            np.concatenate(probs))


def has_activity(model: torch.nn.Module) -> bool:
    return getattr(model, "activity_head", None) is not None
