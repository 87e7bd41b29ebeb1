"""A simulated set on disk: what ``diarefine simulate`` does, as one library call.

Layout of ``OUTDIR``::

    audio/<uri>.flac      16 kHz mono 16-bit (or .wav)
    rttm/<uri>.rttm       tight reference
    uem/<uri>.uem         the whole file
    meta/<uri>.json       manifest record + drawn parameters + source files used
    manifest.jsonl        every complete conversation of OUTDIR, sorted by uri
    ATTRIBUTION.txt       where the speech comes from
    cache/vad-*.json      Silero VAD regions of the source files (``--cache-dir``)

Conversation ``index`` of a set uses ``numpy.random.default_rng([seed, index])``, so it does
not depend on ``--num`` and the same request gives the same bytes. Files are written
atomically; ``meta/<uri>.json`` is written last and marks a conversation complete. A rerun
skips complete conversations made with the same settings, refuses ones made with other
settings (unless ``overwrite``), and refuses to add speakers of one split to a folder that
holds conversations of another split with the same speakers.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from diarefine.core.timeline import Timeline
from diarefine.data.manifest import (
    Recording,
    overlap_ratio,
    parse_record,
    record_json,
    write_manifest,
)
from diarefine.data.simulate import Conversation, SimulationConfig, simulate_conversation
from diarefine.data.sources import SourceUtterance, by_speaker, load_sources
from diarefine.data.splits import check_disjoint, select_speakers, speaker_splits
from diarefine.data.turns import Piece
from diarefine.data.vad import Detector, SileroVad, VadCache, detect_regions
from diarefine.errors import DiarefineError, DiarefineWarning
from diarefine.io.atomic import atomic_open, atomic_write_text
from diarefine.io.audio import SAMPLE_RATE, load_audio
from diarefine.io.rttm import parse_rttm, rttm_lines, write_rttm
from diarefine.io.uem import write_uem

DEFAULT_URI = "sim-{split}-s{seed}-{index:04d}"
AUDIO_FORMATS = {"flac": "FLAC", "wav": "WAV"}
Hook = Callable[[str, object], None]


@dataclass(frozen=True)
class SetSpec:
    """Which conversations to make: ``num`` of ``split`` with ``seed``."""

    num: int = 10
    split: str = "train"
    seed: int = 0
    uri: str = DEFAULT_URI
    audio_format: str = "flac"
    only_speakers: tuple[str, ...] | None = None
    speaker_pattern: str | None = None


@dataclass(frozen=True)
class SetResult:
    manifest: Path
    records: tuple[Recording, ...]  # the requested conversations, by index
    generated: int
    skipped: int


def uris(spec: SetSpec) -> list[str]:
    """The uri of each index; a template without ``{index}`` allows one conversation."""
    if spec.num > 1 and "{index" not in spec.uri:
        raise DiarefineError(f"uri template {spec.uri!r} lacks {{index}} but {spec.num} "
                             "conversations were asked for")
    out = [spec.uri.format(split=spec.split, seed=spec.seed, index=i) for i in range(spec.num)]
    bad = [u for u in out if not u or any(c.isspace() or c in "/\\" for c in u)]
    if bad:
        raise DiarefineError(f"uri {bad[0]!r} has spaces or slashes")
    return out


def build_material(utterances: Sequence[SourceUtterance], detector: Detector,
                   cache: VadCache, hook: Hook | None = None) -> dict[str, list[Piece]]:
    """Speech regions of every utterance, as pieces per speaker (reading order)."""
    audios = {u.path: load_audio(u.path) for u in utterances}
    regions = detect_regions(audios.items(), detector, cache, hook)
    material: dict[str, list[Piece]] = {}
    for utt in utterances:
        audio, r = audios[utt.path], regions[utt.path]
        for k, (start, end) in enumerate(r.tolist()):
            pause = int(r[k + 1, 0] - end) if k + 1 < len(r) else None
            material.setdefault(utt.speaker, []).append(
                Piece(utt.speaker, utt.name, start, audio[start:end], pause))
    silent = sorted({u.speaker for u in utterances} - set(material))
    if silent:
        warnings.warn(f"no speech found for speaker(s) {', '.join(silent)}; left out",
                      DiarefineWarning, stacklevel=2)
    return material


def _existing(outdir: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((outdir / "meta").glob("*.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            out[meta["record"]["uri"]] = meta
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DiarefineError(f"{path}: damaged conversation record; delete it") from None
    return out


def _config_id(spec: SetSpec, config: SimulationConfig, detector_key: str,
               pool: dict[str, list[SourceUtterance]]) -> str:
    what = {"config": config.as_dict(), "split": spec.split, "seed": spec.seed,
            "format": spec.audio_format, "vad": detector_key,
            "pool": {s: [u.name for u in utts] for s, utts in sorted(pool.items())}}
    return hashlib.sha1(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def write_conversation(conv: Conversation, outdir: Path, spec: SetSpec, index: int,
                       config: SimulationConfig, config_id: str) -> Recording:
    """Audio, RTTM, UEM, then the meta record (the completion mark)."""
    ext = spec.audio_format
    audio_path = outdir / "audio" / f"{conv.uri}.{ext}"
    pcm = np.round(np.clip(conv.audio, -1.0, 1.0) * 32767).astype(np.int16)
    with atomic_open(audio_path, "wb") as handle:
        sf.write(handle, pcm, SAMPLE_RATE, subtype="PCM_16", format=AUDIO_FORMATS[ext])
    rttm_path, uem_path = outdir / "rttm" / f"{conv.uri}.rttm", outdir / "uem" / f"{conv.uri}.uem"
    lines = rttm_lines(conv.reference)
    write_rttm(rttm_path, conv.reference)
    write_uem(uem_path, {conv.uri: Timeline([(0.0, conv.duration)])})
    written = parse_rttm(lines)[conv.uri]  # stats of the reference as written (ms)
    rec = Recording(conv.uri, audio_path, rttm_path, uem_path, conv.duration,
                    len(written.speakers), written.speakers, spec.split,
                    overlap_ratio(written), spec.seed,
                    {"index": index, "speech": round(written.speech().duration(), 3)})
    meta = {"config_id": config_id, "record": json.loads(record_json(rec, outdir)),
            "params": conv.params, "sources": list(conv.sources), "config": config.as_dict()}
    atomic_write_text(outdir / "meta" / f"{conv.uri}.json",
                      json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return rec


def attribution(source: Path, utterances: Sequence[SourceUtterance]) -> str:
    notes = sorted(p.relative_to(source).as_posix() for p in source.rglob("*")
                   if p.is_file() and p.name.upper().startswith(("LICENSE", "README", "SOURCE")))
    text = [f"Simulated by diarefine from the single-speaker recordings in '{source.name}'.",
            "The licence of that source applies to this audio. Licence and source notes "
            "found there: " + (", ".join(notes) or "none") + "."]
    if any(u.subset or "librispeech" in u.name.lower() for u in utterances):
        text.append("LibriSpeech ASR corpus (V. Panayotov, G. Chen, D. Povey, S. Khudanpur, "
                    "ICASSP 2015), http://www.openslr.org/12, CC BY 4.0.")
    text.append("The source files of each conversation are listed in meta/<uri>.json.")
    return "\n".join(text) + "\n"


def simulate_set(source: str | Path, outdir: str | Path, spec: SetSpec,
                 config: SimulationConfig | None = None, *, detector: Detector | None = None,
                 cache_dir: str | Path | None = None, overwrite: bool = False,
                 hook: Hook | None = None) -> SetResult:
    """Make (or complete) the set described by ``spec`` in ``outdir`` (module docstring)."""
    config, source, outdir = config or SimulationConfig(), Path(source), Path(outdir)
    detector = detector or SileroVad()
    key = detector.key() if hasattr(detector, "key") else None
    utterances = load_sources(source, spec.speaker_pattern)
    speakers = select_speakers(speaker_splits(utterances), spec.split, spec.only_speakers)
    pool = {s: u for s, u in by_speaker(utterances).items() if s in set(speakers)}
    if len(pool) < config.speakers[1]:
        raise DiarefineError(f"split {spec.split!r} has {len(pool)} speaker(s) in {source}; "
                             f"conversations of up to {config.speakers[1]} were asked for")
    names = uris(spec)
    existing = _existing(outdir)
    check_disjoint([(u, m["record"].get("split"), m["record"].get("speakers", []))
                    for u, m in existing.items()] + [("this request", spec.split, sorted(pool))])
    config_id = _config_id(spec, config, str(key), pool)
    todo = [i for i, u in enumerate(names) if overwrite or u not in existing
            or not _complete(outdir, existing[u], config_id)]
    if todo:
        cache = VadCache(cache_dir if cache_dir is not None else outdir / "cache", str(key)) \
            if key is not None else VadCache(None, "")
        material = build_material([u for s in sorted(pool) for u in pool[s]], detector, cache, hook)
        if len(material) < config.speakers[1]:
            raise DiarefineError(f"only {len(material)} speaker(s) of split {spec.split!r} "
                                 f"have speech; conversations of up to {config.speakers[1]} "
                                 "were asked for")
        atomic_write_text(outdir / "ATTRIBUTION.txt", attribution(source, utterances))
        for i in todo:
            rng = np.random.default_rng([spec.seed, i])
            conv = simulate_conversation(names[i], rng, sorted(material), material, config)
            rec = write_conversation(conv, outdir, spec, i, config, config_id)
            if hook is not None:
                hook("conversation", rec)
    by_uri = {u: parse_record(m["record"], outdir, outdir / "meta" / f"{u}.json", 1)
              for u, m in _existing(outdir).items()}
    manifest = outdir / "manifest.jsonl"
    write_manifest(manifest, [by_uri[u] for u in sorted(by_uri)])
    return SetResult(manifest, tuple(by_uri[u] for u in names), len(todo),
                     spec.num - len(todo))


def _complete(outdir: Path, meta: dict, config_id: str) -> bool:
    """True when a conversation exists with the same settings; DiarefineError when it
    exists with other settings (rerun with ``overwrite`` to replace it)."""
    record = meta["record"]
    if meta.get("config_id") != config_id:
        raise DiarefineError(f"{outdir}: conversation {record['uri']} was made with other "
                             "settings or sources; use another folder or --overwrite")
    return all((outdir / record[k]).is_file() for k in ("audio", "rttm", "uem"))
