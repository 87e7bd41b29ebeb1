"""Regular frame grids: where each frame of a model's input or output lies in time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class FrameGrid:
    """Frames ``i = 0, 1, ...`` covering ``[start + i*step, start + i*step + duration)`` (s)."""

    start: float
    step: float
    duration: float

    def starts(self, num_frames: int) -> NDArray[np.float64]:
        """Start times (s) of the first ``num_frames`` frames. Shape: (num_frames,)."""
        return self.start + self.step * np.arange(num_frames, dtype=np.float64)

    def centers(self, num_frames: int) -> NDArray[np.float64]:
        """Middle times (s) of the first ``num_frames`` frames. Shape: (num_frames,)."""
        return self.starts(num_frames) + 0.5 * self.duration

    def center(self, index: ArrayLike) -> NDArray[np.float64]:
        """Middle time (s) of frame(s) ``index``. Shape: same as ``index``."""
        return self.start + np.asarray(index, dtype=np.float64) * self.step + 0.5 * self.duration

    def nearest(self, times: ArrayLike, num_frames: int) -> NDArray[np.int64]:
        """Index of the frame whose middle is closest to each time, clipped to the grid.

        Shape: same as ``times``.
        """
        t = np.asarray(times, dtype=np.float64)
        index = np.rint((t - self.start - 0.5 * self.duration) / self.step)
        return np.clip(index, 0, max(num_frames - 1, 0)).astype(np.int64)

    def shifted(self, delta: float) -> FrameGrid:
        return FrameGrid(self.start + delta, self.step, self.duration)
