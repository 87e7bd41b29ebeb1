"""Speech regions inside single-speaker utterances, found by Silero VAD, with a cache.

Why: a LibriSpeech utterance holds pauses (0.1-3 s between phrases, ~0.3-0.6 s of
silence at each end). A reference marking the whole utterance as speech is *loose*;
the simulator writes only these regions to the RTTM.

Detector: ``silero-vad`` (MIT; its weights ship inside the PyPI wheel and load offline)
through ``get_speech_timestamps`` with :class:`VadSettings` (16 kHz, 32 ms windows):
speech starts where the probability reaches ``threshold`` and ends after
``min_silence`` seconds below ``threshold - 0.15``; regions shorter than ``min_speech``
are dropped and each region is padded by ``pad`` seconds on both sides. torch and
silero are imported only when a file is actually analysed.

Cache: one JSON file per settings (``vad-<hash>.json``) in a cache folder chosen by the
caller (the simulator uses ``OUTDIR/cache``; never the source folder), keyed by the
resolved path and validated by size and modification time. Regions are integer sample
indices at 16 kHz, so cached and fresh results are identical.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from diarefine.errors import DiarefineError
from diarefine.io.atomic import atomic_write_text
from diarefine.io.audio import SAMPLE_RATE

#: A detector: audio (num_samples,) float32 at 16 kHz -> regions (num_regions, 2) int64
#: ``[start, end)`` sample indices, sorted and disjoint.
Detector = Callable[[NDArray[np.float32]], NDArray[np.int64]]


@dataclass(frozen=True)
class VadSettings:
    """Silero VAD parameters (seconds)."""

    threshold: float = 0.5
    min_speech: float = 0.25
    min_silence: float = 0.10
    pad: float = 0.03

    def key(self) -> str:
        text = json.dumps({"detector": "silero-vad", **asdict(self)}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


class SileroVad:
    """Silero VAD as a :data:`Detector`; the model is loaded on first use."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self._model = None

    def __call__(self, audio: NDArray[np.float32]) -> NDArray[np.int64]:
        try:
            import torch
            from silero_vad import get_speech_timestamps, load_silero_vad
        except ImportError as exc:
            raise DiarefineError(f"Silero VAD is not installed ({exc.name}): pip install "
                                 "torch==2.13.0 'diarefine[pipeline]'") from None

        if self._model is None:
            with warnings.catch_warnings():  # silero's own deprecated resource/jit calls
                warnings.simplefilter("ignore", DeprecationWarning)
                self._model = load_silero_vad()
        s = self.settings
        with torch.inference_mode():
            stamps = get_speech_timestamps(
                torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), self._model,
                threshold=s.threshold, sampling_rate=SAMPLE_RATE,
                min_speech_duration_ms=round(s.min_speech * 1000),
                min_silence_duration_ms=round(s.min_silence * 1000),
                speech_pad_ms=round(s.pad * 1000))
        regions = np.array([[d["start"], d["end"]] for d in stamps], dtype=np.int64)
        return normalize_regions(regions.reshape(-1, 2), len(audio))

    def key(self) -> str:
        return self.settings.key()


def normalize_regions(regions: NDArray[np.int64], num_samples: int) -> NDArray[np.int64]:
    """Clip to ``[0, num_samples)``, sort, merge overlapping or touching regions.

    Shapes: (n, 2) -> (m, 2) int64.
    """
    regions = np.clip(np.asarray(regions, dtype=np.int64).reshape(-1, 2), 0, num_samples)
    regions = regions[regions[:, 1] > regions[:, 0]]
    regions = regions[np.argsort(regions[:, 0], kind="stable")]
    out: list[list[int]] = []
    for start, end in regions.tolist():
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


class VadCache:
    """Speech regions by file, persisted as JSON in ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path | None, detector_key: str) -> None:
        self.path = Path(folder) / f"vad-{detector_key}.json" if folder is not None else None
        self._entries: dict[str, dict] = {}
        self._dirty = False
        if self.path is not None and self.path.is_file():
            try:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._entries = {}  # a damaged cache is only a cache: recompute

    @staticmethod
    def _stamp(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> NDArray[np.int64] | None:
        key, size, mtime = self._stamp(path)
        entry = self._entries.get(key)
        if entry is None or entry.get("size") != size or entry.get("mtime_ns") != mtime:
            return None
        return np.array(entry["regions"], dtype=np.int64).reshape(-1, 2)

    def put(self, path: Path, regions: NDArray[np.int64]) -> None:
        key, size, mtime = self._stamp(path)
        self._entries[key] = {"size": size, "mtime_ns": mtime, "regions": regions.tolist()}
        self._dirty = True

    def save(self) -> None:
        if self.path is not None and self._dirty:
            atomic_write_text(self.path, json.dumps(self._entries, sort_keys=True) + "\n")
            self._dirty = False


def detect_regions(
    items: Iterable[tuple[Path, NDArray[np.float32]]], detector: Detector,
    cache: VadCache, hook: Callable[[str, object], None] | None = None,
) -> dict[Path, NDArray[np.int64]]:
    """Regions of each ``(path, audio)``, from the cache when valid, else by ``detector``.

    The cache is saved once at the end (and on an exception, keeping finished files).
    """
    out: dict[Path, NDArray[np.int64]] = {}
    try:
        for path, audio in items:
            regions = cache.get(path)
            if regions is None:
                regions = normalize_regions(detector(audio), len(audio))
                cache.put(path, regions)
                if hook is not None:
                    hook("vad", path)
            out[path] = regions
    finally:
        cache.save()
    return out
