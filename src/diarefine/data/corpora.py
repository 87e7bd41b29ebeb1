"""Readers of the standard corpus layouts into the one manifest form.

=============  =====================================================================
format         layout read (``SRC``)
=============  =====================================================================
``kaldi``      a data dir: ``wav.scp`` (``<uri> <path>``), ``rttm`` (all recordings),
               optional ``all.uem`` or ``uem`` (DiariZen's recipes use these names)
``voxconverse`` ``SRC/audio/*.wav`` and per-file RTTMs in ``SRC/rttm`` (or ``--rttm-dir``,
               e.g. the ``dev/`` or ``test/`` folder of the VoxConverse repository); no UEM
``dihard``     LDC DIHARD III: ``SRC[/data]/flac/*.flac``, ``rttm/*.rttm`` and
               ``uem_scoring/{core,full}/all.uem``; the chosen partition's UEM defines the
               recording set (core is a subset of full)
``pyannote``   ``SRC`` is a pyannote ``database.yml``; the protocol's subset gives the uri
               list, RTTM and UEM; ``Databases`` path templates (``{uri}``) give the audio;
               relative paths are taken from the yml's folder
``nemo``       a NeMo diarization manifest (:func:`read_nemo`)
``lhotse``     lhotse recordings + supervisions manifests (:mod:`diarefine.data.lhotse`);
               the references are derived RTTMs, in :attr:`Prepared.derived`
=============  =====================================================================

Every inconsistency is a :class:`Problem` naming the recording: a listed or annotated
recording without audio, an unreadable audio file, audio without reference turns (unless
its UEM marks it annotated: a silent recording), a per-file RTTM whose uri differs from its
file name, reference turns past the audio's end, a recording missing from a UEM. A problem
also suggests the recording id that differs only by accents or case (``trñ00`` ->
``trn00``). Recordings with a problem are left out of :attr:`Prepared.recordings`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.data.manifest import Recording, overlap_ratio
from diarefine.errors import AudioError, DiarefineError
from diarefine.io.audio import audio_info, read_wav_scp
from diarefine.io.rttm import read_rttm, write_rttm
from diarefine.io.text import read_text
from diarefine.io.uem import read_uem

#: Reference turns may end this long after the audio before it is a problem (s).
END_TOLERANCE = 0.5


class CorpusError(DiarefineError):
    """A corpus folder that cannot be read at all (missing list, RTTM folder, ...)."""


@dataclass(frozen=True, order=True)
class Problem:
    uri: str
    message: str

    def __str__(self) -> str:
        return f"{self.uri}: {self.message}"


@dataclass(frozen=True)
class Prepared:
    recordings: tuple[Recording, ...]
    problems: tuple[Problem, ...]
    #: RTTMs the recordings name that a reader derived (formats without RTTM files, e.g.
    #: lhotse) and the caller still has to write: :func:`write_derived`.
    derived: Mapping[Path, Annotation] = field(default_factory=dict)


def write_derived(prepared: Prepared) -> None:
    """Write the derived RTTMs of ``prepared`` (one annotation each; atomically)."""
    for path, annotation in prepared.derived.items():
        write_rttm(path, annotation)


@dataclass
class _Corpus:
    """What a layout reader found, before cross-checking."""

    audio: dict[str, Path]
    references: dict[str, tuple[Annotation, Path]]
    uem: dict[str, tuple[Timeline, Path]] | None = None
    listed: dict[str, Path] | None = None  # uri -> list file naming it
    audio_hint: Callable[[str], str] | None = None
    split: str | None = None
    problems: list[Problem] | None = None
    derived: dict[Path, Annotation] | None = None  # RTTM to write -> its annotation


def fold(uri: str) -> str:
    """Recording id without accents, in lower case (to suggest near matches)."""
    text = unicodedata.normalize("NFKD", uri)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CorpusError(f"{path}: no such {what}")
    return path


def _first(*candidates: Path) -> Path | None:
    return next((p for p in candidates if p.exists()), None)


def _rttm_file(path: Path) -> dict[str, tuple[Annotation, Path]]:
    return {uri: (ann, path) for uri, ann in read_rttm(path).items()}


def _uem_file(path: Path) -> dict[str, tuple[Timeline, Path]]:
    return {uri: (region, path) for uri, region in read_uem(path).items()}


def _per_file_rttms(folder: Path, problems: list[Problem]) -> dict[str, tuple[Annotation, Path]]:
    """RTTMs of a folder, one recording each, named after it."""
    out: dict[str, tuple[Annotation, Path]] = {}
    files = sorted(_require(folder, "RTTM folder").glob("*.rttm"))
    if not files:
        raise CorpusError(f"{folder}: no *.rttm file")
    for path in files:
        found = read_rttm(path)
        if set(found) - {path.stem}:
            others = ", ".join(sorted(set(found) - {path.stem}))
            problems.append(Problem(path.stem, f"{path.name} holds recording(s) {others}"))
            continue
        out[path.stem] = (found.get(path.stem, Annotation(path.stem)), path)
    return out


def read_kaldi(src: Path) -> _Corpus:
    """A Kaldi-style data dir (see the module docstring)."""
    audio = read_wav_scp(_require(src / "wav.scp", "wav.scp"))
    rttm = _first(src / "rttm", src / "all.rttm")
    if rttm is None:
        raise CorpusError(f"{src}: no rttm (or all.rttm) file")
    uem = _first(src / "all.uem", src / "uem")
    return _Corpus(audio, _rttm_file(rttm), _uem_file(uem) if uem else None,
                   audio_hint=lambda uri: f"not in {src / 'wav.scp'}")


def read_voxconverse(src: Path, rttm_dir: Path | None = None,
                     audio_dir: Path | None = None) -> _Corpus:
    """VoxConverse: audio folder + folder of per-file RTTMs."""
    audio_dir = _require(audio_dir or src / "audio", "audio folder")
    problems: list[Problem] = []
    references = _per_file_rttms(rttm_dir or src / "rttm", problems)
    audio = {p.stem: p for p in sorted(audio_dir.rglob("*.wav"))}
    return _Corpus(audio, references, audio_hint=lambda uri: f"{audio_dir / uri}.wav",
                   problems=problems)


def read_dihard(src: Path, partition: str = "full") -> _Corpus:
    """DIHARD III in the LDC layout; ``partition`` is ``core`` or ``full``."""
    if partition not in ("core", "full"):
        raise CorpusError(f"unknown DIHARD partition {partition!r}; expected core or full")
    data = src / "data" if (src / "data" / "flac").is_dir() else src
    flac = _require(data / "flac", "flac folder (DIHARD LDC layout)")
    problems: list[Problem] = []
    references = _per_file_rttms(data / "rttm", problems)
    uem_dir = _require(data / "uem_scoring" / partition, "UEM folder")
    files = [uem_dir / "all.uem"] if (uem_dir / "all.uem").is_file() else sorted(
        uem_dir.glob("*.uem"))
    if not files:
        raise CorpusError(f"{uem_dir}: no *.uem file")
    uem: dict[str, tuple[Timeline, Path]] = {}
    for path in files:
        uem.update(_uem_file(path))
    audio = {p.stem: p for p in sorted(flac.glob("*.flac"))}
    # The partition's UEM defines the recording set: drop the others silently.
    audio = {u: p for u, p in audio.items() if u in uem}
    references = {u: r for u, r in references.items() if u in uem}
    return _Corpus(audio, references, uem, listed={u: p for u, (_, p) in uem.items()},
                   audio_hint=lambda uri: f"{flac / uri}.flac", problems=problems)


def read_pyannote(database_yml: Path, protocol: str, subset: str) -> _Corpus:
    """A pyannote.database speaker-diarization protocol of a ``database.yml``."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml ships with the test extras
        raise CorpusError("reading database.yml needs PyYAML (pip install pyyaml)") from None
    config = yaml.safe_load(read_text(_require(database_yml, "database.yml")))
    base = database_yml.parent
    try:
        database, task, name = protocol.split(".")
        entry = config["Protocols"][database][task][name][subset]
    except (ValueError, KeyError, TypeError):
        raise CorpusError(f"{database_yml}: no protocol {protocol!r} with subset {subset!r} "
                          "(protocol as Database.Task.Name)") from None
    templates = (config.get("Databases") or {}).get(database)
    if not templates:
        raise CorpusError(f"{database_yml}: no Databases entry for {database!r}")
    templates = [templates] if isinstance(templates, str) else list(templates)
    if "annotation" not in entry:
        raise CorpusError(f"{database_yml}: {protocol} {subset} has no 'annotation'")
    references = _rttm_file(_require(base / entry["annotation"], "RTTM file"))
    uem = _uem_file(_require(base / entry["annotated"], "UEM file")) if "annotated" in entry \
        else None
    listed = None
    if "uri" in entry:
        lst = _require(base / entry["uri"], "uri list")
        names = [line.strip() for line in read_text(lst).splitlines()]
        listed = {n: lst for n in names if n}
    uris = set(listed or ()) | set(references) | set(uem or ())
    audio = {}
    for uri in sorted(uris):
        found = _first(*(base / t.format(uri=uri) for t in templates))
        if found is not None:
            audio[uri] = found
    split = {"development": "dev"}.get(subset, subset)
    return _Corpus(audio, references, uem, listed, split=split,
                   audio_hint=lambda uri: " or ".join(t.format(uri=uri) for t in templates))


def _suggest(uri: str, others: set[str]) -> str:
    near = sorted(o for o in others if o != uri and fold(o) == fold(uri))
    return f"; did you mean {near[0]!r}?" if near else ""


def _faults(uri: str, corpus: _Corpus) -> list[str]:
    """What is wrong with one recording (empty when it is complete)."""
    faults = []
    if corpus.listed is not None and uri not in corpus.listed:
        names = sorted({p.name for p in corpus.listed.values()})
        faults.append("not listed in " + ", ".join(names))
    if uri not in corpus.audio:
        faults.append(f"no audio ({(corpus.audio_hint or str)(uri)})")
    in_uem = corpus.uem is not None and uri in corpus.uem
    if uri not in corpus.references and not in_uem:
        faults.append("no reference turns")
    if corpus.uem is not None and not in_uem:
        faults.append("no line in the UEM")
    return faults


def check(corpus: _Corpus) -> Prepared:
    """Cross-check audio, references, UEM and list; build the complete recordings.

    With a list, recordings it does not name are outside the subset and ignored, unless
    their id matches a listed one up to accents and case: that is reported as a mismatch.
    """
    early: dict[str, list[str]] = {}
    for problem in corpus.problems or []:
        early.setdefault(problem.uri, []).append(problem.message)
    uris = set(corpus.audio) | set(corpus.references) | set(corpus.listed or ()) | set(early)
    if corpus.listed is not None:
        folded = {fold(u) for u in corpus.listed}
        uris = {u for u in uris if u in corpus.listed or fold(u) in folded}
    recordings: list[Recording] = []
    problems: list[Problem] = []
    for uri in sorted(uris):
        faults = early.get(uri, []) + _faults(uri, corpus)
        if faults:
            problems.append(Problem(uri, "; ".join(faults) + _suggest(uri, uris)))
            continue
        rec, trouble = _recording(uri, corpus, corpus.references.get(uri))
        if rec is None:
            assert trouble is not None
            problems.append(trouble)
        else:
            recordings.append(rec)
    derived = corpus.derived or {}
    kept = {r: derived[r] for r in (rec.rttm for rec in recordings) if r in derived}
    return Prepared(tuple(recordings), tuple(sorted(problems)), kept)


def _recording(uri: str, corpus: _Corpus, ref: tuple[Annotation, Path] | None,
               ) -> tuple[Recording | None, Problem | None]:
    try:
        duration = audio_info(corpus.audio[uri]).duration
    except AudioError as exc:
        return None, Problem(uri, str(exc))
    annotation, rttm = ref if ref is not None else (Annotation(uri), None)
    extent = annotation.extent()
    if extent is not None and extent.end > duration + END_TOLERANCE:
        return None, Problem(uri, f"reference turns end at {extent.end:.3f} s, after the "
                             f"audio's {duration:.3f} s")
    region, uem = corpus.uem[uri] if corpus.uem is not None else (None, None)
    scored = annotation.crop(region) if region is not None else annotation
    return Recording(uri, corpus.audio[uri], rttm, uem, duration, len(scored.speakers),
                     scored.speakers, corpus.split, overlap_ratio(scored)), None


def read_nemo(manifest: Path) -> _Corpus:
    """A NeMo speaker-diarization manifest: one JSON object per line with
    ``audio_filepath`` and, optionally, ``rttm_filepath`` and ``uem_filepath`` (relative
    paths from the manifest's folder); the recording id is the audio file's stem, as NeMo
    names it."""
    from diarefine.data.manifest import json_lines
    from diarefine.errors import FormatError

    audio: dict[str, Path] = {}
    references: dict[str, tuple[Annotation, Path]] = {}
    uems: dict[str, tuple[Timeline, Path]] = {}
    base = manifest.parent
    for number, item in json_lines(_require(manifest, "NeMo manifest")):
        path = item.get("audio_filepath")
        if not isinstance(path, str) or not path:
            raise FormatError(manifest, number, "missing 'audio_filepath'")
        uri = "_".join(Path(path).stem.split())
        if uri in audio:
            raise FormatError(manifest, number, f"recording {uri!r} listed twice")
        audio[uri] = base / path
        for key, table, reader in (("rttm_filepath", references, _rttm_file),
                                   ("uem_filepath", uems, _uem_file)):
            value = item.get(key)
            if isinstance(value, str) and value:
                found = reader(_require(base / value, key))
                if uri in found:
                    table[uri] = found[uri]  # type: ignore[index]
    return _Corpus(audio, references, uems or None,
                   audio_hint=lambda uri: f"not in {manifest}")


def write_nemo_manifest(path: str | Path, recordings: Iterable[Recording]) -> None:
    """A NeMo speaker-diarization manifest of ``recordings`` (absolute paths), atomically."""
    import json

    from diarefine.io.atomic import atomic_write_text

    lines = [json.dumps({
        "audio_filepath": str(Path(rec.audio).resolve()), "offset": 0,
        "duration": rec.duration, "label": "infer", "text": "-",
        "num_speakers": rec.num_speakers,
        "rttm_filepath": str(Path(rec.rttm).resolve()) if rec.rttm else None,
        "uem_filepath": str(Path(rec.uem).resolve()) if rec.uem else None}) + "\n"
        for rec in recordings]
    atomic_write_text(path, "".join(lines))


FORMATS = ("kaldi", "voxconverse", "dihard", "pyannote", "nemo", "lhotse")


def prepare(fmt: str, src: str | Path, *, protocol: str | None = None, subset: str = "test",
            partition: str = "full", rttm_dir: str | Path | None = None,
            audio_dir: str | Path | None = None, split: str | None = None,
            supervisions: str | Path | None = None,
            reference_dir: str | Path | None = None) -> Prepared:
    """Read ``src`` in layout ``fmt`` (one of :data:`FORMATS`) and cross-check it.

    lhotse: ``supervisions`` is its manifest (default: beside the recordings one) and
    ``reference_dir`` (required) the folder of the derived RTTMs, written by
    :func:`write_derived`."""
    src = Path(src)
    if fmt == "kaldi":
        corpus = read_kaldi(src)
    elif fmt == "voxconverse":
        corpus = read_voxconverse(src, Path(rttm_dir) if rttm_dir else None,
                                  Path(audio_dir) if audio_dir else None)
    elif fmt == "dihard":
        corpus = read_dihard(src, partition)
    elif fmt == "nemo":
        corpus = read_nemo(src)
    elif fmt == "lhotse":
        from diarefine.data.lhotse import read_lhotse

        if reference_dir is None:
            raise CorpusError("the lhotse format needs reference_dir (its derived RTTMs)")
        corpus = read_lhotse(src, Path(supervisions) if supervisions else None,
                             Path(reference_dir))
    elif fmt == "pyannote":
        if not protocol:
            raise CorpusError("the pyannote format needs a protocol (Database.Task.Name)")
        corpus = read_pyannote(src, protocol, subset)
    else:
        raise CorpusError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if split is not None:
        corpus.split = split
    return check(corpus)
