"""Fixtures of the data tests: synthetic single-speaker sources with an exact stub VAD,
and a tiny real LibriSpeech source (symlinks into ../shared/data) with one VAD cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16_000
#: LibriSpeech test-other speakers and utterances used by the real-data tests.
REAL_FILES = [f"{spk}-{chapter}-{utt:04d}.flac" for spk, chapter in
              (("1688", "142285"), ("1998", "15444"), ("2033", "164914"))
              for utt in (0, 1)]


def phrase(rng: np.random.Generator, f0: float, seconds: float) -> np.ndarray:
    """A harmonic 'phrase' with a 4 Hz syllable envelope; never near-silent inside."""
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k for k in range(1, 6))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.1 * tone * envelope).astype(np.float32)


def write_synthetic_source(root: Path, speakers: int = 4, utterances: int = 2,
                           subset: str = "test-other", seed: int = 0) -> Path:
    """LibriSpeech-named FLACs: phrases of 0.8-2.5 s separated by 0.3-0.9 s of silence."""
    rng = np.random.default_rng(seed)
    for k in range(speakers):
        spk = str(100 + k)
        folder = root / f"librispeech_{subset}" / spk
        folder.mkdir(parents=True, exist_ok=True)
        for u in range(utterances):
            parts = [np.zeros(int(0.4 * SR), np.float32)]
            for _ in range(4):
                parts.append(phrase(rng, 90 + 35 * k, rng.uniform(0.8, 2.5)))
                parts.append(np.zeros(int(rng.uniform(0.3, 0.9) * SR), np.float32))
            sf.write(folder / f"{spk}-{7 + k}-{u:04d}.flac", np.concatenate(parts), SR)
    return root


class EnergyVad:
    """Exact stub detector for the synthetic sources: 10 ms frames above -40 dBFS."""

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        n = len(audio) // 160
        active = (audio[: n * 160].reshape(n, 160) ** 2).mean(axis=1) > 1e-4
        edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(int), [0]])))
        return (edges.reshape(-1, 2) * 160).astype(np.int64)

    def key(self) -> str:
        return "energy-stub"


@pytest.fixture
def synthetic_source(tmp_path: Path) -> Path:
    return write_synthetic_source(tmp_path / "src")


@pytest.fixture(scope="session")
def real_source(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three test-other speakers x two utterances, linked into a LibriSpeech-like tree."""
    origin = shared_data / "librispeech-261" / "librispeech_test-other"
    root = tmp_path_factory.mktemp("real") / "librispeech-261"
    for name in REAL_FILES:
        target = origin / name.split("-")[0] / name
        assert target.is_file(), target
        link = root / "librispeech_test-other" / name.split("-")[0] / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    return root


@pytest.fixture(scope="session")
def vad_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Silero VAD cache for the whole session: VAD runs once per real file."""
    return tmp_path_factory.mktemp("vadcache")
