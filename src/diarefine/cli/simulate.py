"""``diarefine simulate SOURCE -o OUTDIR``: conversations simulated from single-speaker speech."""

from __future__ import annotations

import re
from pathlib import Path

import click

from diarefine.data.manifest import Recording
from diarefine.data.room import NOISE_KINDS
from diarefine.data.simset import DEFAULT_URI, SetSpec, simulate_set
from diarefine.data.simulate import SimulationConfig
from diarefine.data.splits import SPLITS
from diarefine.data.turns import TurnTakingConfig

_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d*)?)\s*(?:-\s*(-?\d+(?:\.\d*)?))?\s*$")


def parse_range(text: str, what: str) -> tuple[float, float]:
    """``"A"`` or ``"A-B"`` -> ``(A, B)`` with ``A <= B``."""
    match = _RANGE.match(text)
    if match is None:
        raise click.BadParameter(f"{text!r}: expected a number or MIN-MAX", param_hint=what)
    lo = float(match.group(1))
    hi = float(match.group(2)) if match.group(2) is not None else lo
    if hi < lo:
        raise click.BadParameter(f"{text!r}: MIN is above MAX", param_hint=what)
    return lo, hi


def parse_optional(text: str, what: str) -> tuple[float, float] | None:
    """Like :func:`parse_range`; ``none`` / ``off`` -> None."""
    return None if text.strip().lower() in ("none", "off") else parse_range(text, what)


def parse_speaker_list(text: str | None) -> tuple[str, ...] | None:
    """``"a,b,c"`` or ``"@file"`` (one id per line) -> ids."""
    if text is None:
        return None
    if text.startswith("@"):
        items = Path(text[1:]).read_text(encoding="utf-8").split()
    else:
        items = [s.strip() for s in text.split(",")]
    return tuple(s for s in items if s)


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "outdir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--num", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of conversations.")
@click.option("--duration", default="120-240", show_default=True,
              help="Target length in seconds: SEC or MIN-MAX.")
@click.option("--speakers", default="2-4", show_default=True,
              help="Speakers per conversation: N or MIN-MAX.")
@click.option("--overlap", type=click.FloatRange(0, 0.5), default=0.12, show_default=True,
              help="Target overlap ratio: overlapped speech time / speech time.")
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True,
              help="Use only the source speakers of this split.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--rt60", default="none", show_default=True,
              help="Reverberation RT60 in seconds: SEC, MIN-MAX or none.")
@click.option("--snr", default="25-40", show_default=True,
              help="Additive noise SNR in dB (speech time vs noise): DB, MIN-MAX or none.")
@click.option("--noise", type=click.Choice(NOISE_KINDS), default="pink", show_default=True)
@click.option("--level-db", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Speaker levels drawn within +-DB around -26 dBFS.")
@click.option("--backchannel-rate", type=click.FloatRange(min=0), default=0.08,
              show_default=True, help="Backchannels per second of main-turn speech.")
@click.option("--speaker-pattern", default=None,
              help="Regex whose first group is the speaker id in a file's path below SOURCE "
              "[default: LibriSpeech SPEAKER-CHAPTER-UTT names].")
@click.option("--only-speakers", default=None,
              help="Comma-separated speaker ids (or @FILE); each must belong to --split.")
@click.option("--uri", "uri_template", default=DEFAULT_URI, show_default=True,
              help="Recording id template ({split}, {seed}, {index}).")
@click.option("--audio-format", type=click.Choice(["flac", "wav"]), default="flac",
              show_default=True)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="VAD cache folder [default: OUTDIR/cache].")
@click.option("--overwrite", is_flag=True, help="Regenerate conversations that exist.")
def simulate(source: Path, outdir: Path, num: int, duration: str, speakers: str, overlap: float,
             split: str, seed: int, rt60: str, snr: str, noise: str,
             level_db: float, backchannel_rate: float, speaker_pattern: str | None,
             only_speakers: str | None, uri_template: str, audio_format: str,
             cache_dir: Path | None, overwrite: bool) -> None:
    """Simulate conversations from single-speaker audio in SOURCE (a folder or a JSONL list).

    Writes audio, tight RTTM (Silero VAD speech regions only), UEM and manifest.jsonl.
    Same arguments, same bytes.
    """
    lo, hi = parse_range(speakers, "--speakers")
    if lo < 1 or lo != int(lo) or hi != int(hi):
        raise click.BadParameter(f"{speakers!r}: whole numbers of at least 1",
                                 param_hint="--speakers")
    if parse_range(duration, "--duration")[0] <= 0:
        raise click.BadParameter("durations must be positive", param_hint="--duration")
    config = SimulationConfig(
        duration=parse_range(duration, "--duration"), speakers=(int(lo), int(hi)),
        overlap=overlap, level_db=level_db, noise=noise,
        rt60=parse_optional(rt60, "--rt60"), snr_db=parse_optional(snr, "--snr"),
        turns=TurnTakingConfig(backchannel_rate=backchannel_rate))
    spec = SetSpec(num=num, split=split, seed=seed, uri=uri_template, audio_format=audio_format,
                   only_speakers=parse_speaker_list(only_speakers),
                   speaker_pattern=speaker_pattern)

    vad_files: list[object] = []

    def hook(step: str, artifact: object) -> None:
        if step == "vad" and not vad_files:
            click.echo("finding speech regions with Silero VAD (cached for reruns) ...",
                       err=True)
        if step == "vad":
            vad_files.append(artifact)
        if isinstance(artifact, Recording):
            rec = artifact
            click.echo(f"{rec.uri}  {rec.duration or 0:7.1f} s  {rec.num_speakers} speakers  "
                       f"overlap {rec.overlap_ratio or 0:.3f}", err=True)

    result = simulate_set(source, outdir, spec, config, cache_dir=cache_dir,
                          overwrite=overwrite, hook=hook)
    click.echo(f"{result.generated} generated, {result.skipped} already complete; "
               f"manifest: {result.manifest}")
