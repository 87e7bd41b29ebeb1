"""Audio loading: any file soundfile reads, any sample rate, any channel count -> 16 kHz mono.

Memory stays bounded: the file is read in blocks, each block is mixed down to mono and
resampled on its own with enough context on both sides that the result equals resampling
the whole signal at once (a polyphase FIR only looks a few dozen samples around each
output sample). Peak memory is the 16 kHz float32 output (~230 MB per hour) plus one block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.typing import NDArray
from scipy.signal import resample_poly

from diarefine.errors import AudioError, FormatError
from diarefine.io.formats import AUDIO_EXTENSIONS  # noqa: F401  (re-exported)
from diarefine.io.text import read_lines

SAMPLE_RATE = 16_000
BLOCK_SECONDS = 60.0


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file; AudioError if soundfile cannot open it."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError
        raise AudioError(f"{path}: cannot read audio ({_reason(exc)})") from None
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def _reason(exc: Exception) -> str:
    """libsndfile's reason without the repeated file name."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    text = text.replace("Error opening ", "").strip()
    if text.startswith("'") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.rstrip(".")


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> NDArray[np.float32]:
    """Mono float32 samples of ``path`` at ``sample_rate``. Shape (num_samples,).

    Channels are averaged; the rate is converted with a polyphase filter. An empty file
    gives an empty array. AudioError when the file cannot be read.
    """
    info = audio_info(path)
    g = math.gcd(sample_rate, info.sample_rate)
    up, down = sample_rate // g, info.sample_rate // g
    out_total = math.ceil(info.frames * up / down)
    out = np.zeros(out_total, dtype=np.float32)
    if info.frames == 0:
        return out
    # Blocks start at multiples of `down` input samples so that each maps to a whole
    # number of output samples; `margin` input samples of context cover the filter.
    margin = down * math.ceil(12 * max(up, down) / up / down + 1)
    block = max(down, int(BLOCK_SECONDS * info.sample_rate) // down * down)
    try:
        with sf.SoundFile(str(info.path)) as handle:
            for start in range(0, info.frames, block):
                lo, hi = max(0, start - margin), min(info.frames, start + block + margin)
                handle.seek(lo)
                data = handle.read(hi - lo, dtype="float32", always_2d=True).mean(axis=1)
                if up != down:
                    data = resample_poly(data, up, down).astype(np.float32)
                skip = (start - lo) * up // down
                count = min(block * up // down, out_total - start * up // down)
                piece = data[skip: skip + count]
                out[start * up // down: start * up // down + len(piece)] = piece
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(f"{info.path}: cannot decode audio ({_reason(exc)})") from None
    if not np.all(np.isfinite(out)):
        raise AudioError(f"{info.path}: audio contains NaN or infinite samples")
    return out


def read_wav_scp(path: str | Path) -> dict[str, Path]:
    """Kaldi ``wav.scp``: ``<uri> <audio path>`` per line; relative paths are taken from
    the list's folder. Piped commands (``... |``) are refused with the line number."""
    path = Path(path)
    out: dict[str, Path] = {}
    for number, raw in enumerate(read_lines(path), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(maxsplit=1)
        if len(fields) != 2:
            raise FormatError(path, number, "expected '<recording-id> <audio path>'")
        uri, target = fields
        if target.rstrip().endswith("|"):
            raise FormatError(path, number, "piped commands are not supported; give a file")
        if uri in out:
            raise FormatError(path, number, f"recording id {uri!r} listed twice")
        audio = Path(target.strip())
        out[uri] = audio if audio.is_absolute() else path.parent / audio
    return out
