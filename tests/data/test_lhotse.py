"""lhotse manifests: read by ``prepare lhotse``, written by ``prepare --lhotse``, checked
against lhotse's own reader and writer (the test extra installs lhotse; the other tests
run on hand-written lhotse lines without it)."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from diarefine.cli import cli
from diarefine.data.corpora import CorpusError, Prepared, prepare, write_derived
from diarefine.data.lhotse import find_manifests, write_lhotse
from diarefine.data.manifest import load_references, read_manifest
from diarefine.errors import FormatError
from needs import require

SR = 16_000


def wav(path: Path, seconds: float, channels: int = 1, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.random.default_rng(0).normal(0, 0.1, (round(seconds * sr), channels))
    sf.write(path, samples.astype(np.float32), sr)
    return path


def sup(uri: str, index: int, start: float, duration: float, speaker: str | None,
        **more: Any) -> dict[str, Any]:
    item = {"id": f"{uri}-{index:05d}", "recording_id": uri, "start": start,
            "duration": duration, "channel": 0, "speaker": speaker}
    return {**item, **more}


def rec(uri: str, source: str, seconds: float, **more: Any) -> dict[str, Any]:
    item = {"id": uri, "sources": [{"type": "file", "channels": [0], "source": source}],
            "sampling_rate": SR, "num_samples": round(seconds * SR), "duration": seconds,
            "channel_ids": [0]}
    return {**item, **more}


def dump(path: Path, items: list[dict[str, Any]]) -> Path:
    """Items as lhotse writes them for the file's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith((".json", ".json.gz")):
        text = json.dumps(items, indent=2)
    else:
        text = "".join(json.dumps(item) + "\n" for item in items)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.open(path, "rt")]


SUPS = [sup("a", 0, 0.1, 1.2, "S1"), sup("a", 1, 0.9, 0.7, "S2"),
        sup("a", 2, 1.6, 0.25, "S1"), sup("b", 0, 0.0, 2.5, "S3")]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two recordings with absolute audio paths; ``b`` is stereo, ``c`` has no speech."""
    audio = tmp_path / "audio"
    recs = [rec("a", str(wav(audio / "a.wav", 2.0)), 2.0),
            rec("b", str(wav(audio / "b.wav", 3.0, channels=2)), 3.0),
            rec("c", str(wav(audio / "c.wav", 1.0)), 1.0)]
    recs[1]["sources"][0]["channels"] = recs[1]["channel_ids"] = [0, 1]
    dump(tmp_path / "src" / "x_recordings_dev.jsonl.gz", recs)
    dump(tmp_path / "src" / "x_supervisions_dev.jsonl.gz", SUPS)
    return tmp_path / "src"


@pytest.fixture
def lhotse() -> ModuleType:
    """lhotse itself (the test extra): skipped where absent, a failure under CI."""
    try:
        return importlib.import_module("lhotse")
    except ImportError as exc:
        require(False, f"lhotse cannot be imported ({exc}; pip install 'diarefine[test]')")
        raise


def prepared(src: Path, tmp_path: Path, **options: Any) -> Prepared:
    return prepare("lhotse", src, reference_dir=tmp_path / "out" / "m-rttm", **options)


def test_lhotse_read_turn_for_turn_with_a_silent_recording(corpus: Path, tmp_path: Path) -> None:
    result = prepared(corpus, tmp_path)
    assert result.problems == ()
    assert [r.uri for r in result.recordings] == ["a", "b", "c"]
    write_derived(result)
    refs = load_references(result.recordings)
    assert [(t.start, round(t.end, 9), t.speaker) for t in refs["a"].turns] == [
        (0.1, 1.3, "S1"), (0.9, 1.6, "S2"), (1.6, 1.85, "S1")]
    assert [r.num_speakers for r in result.recordings] == [2, 1, 0]
    # the silent recording: kept, with an empty RTTM of its own
    c = result.recordings[2]
    assert c.rttm == tmp_path / "out" / "m-rttm" / "c.rttm" and c.rttm.read_text() == ""


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json", ".json.gz"])
def test_round_trip_leaves_every_supervision_unchanged(tmp_path: Path, suffix: str) -> None:
    recs = [rec("a", str(wav(tmp_path / "a.wav", 2.0)), 2.0),
            rec("b", str(wav(tmp_path / "b.wav", 3.0)), 3.0)]
    sups = list(SUPS)
    src = dump(tmp_path / f"recordings{suffix}", recs)
    dump(tmp_path / f"supervisions{suffix}", sups)
    result = prepared(src, tmp_path)
    write_derived(result)
    rec_out, sup_out = write_lhotse(tmp_path / "back", result.recordings)
    assert load(sup_out) == sups
    assert load(rec_out) == recs


def test_written_manifests_load_in_lhotse_with_every_field(corpus: Path, tmp_path: Path,
                                                           lhotse: ModuleType) -> None:
    result = prepared(corpus, tmp_path)
    write_derived(result)
    rec_out, sup_out = write_lhotse(tmp_path / "lh", result.recordings)
    assert (rec_out.name, sup_out.name) == ("recordings.jsonl.gz", "supervisions.jsonl.gz")
    recordings = lhotse.load_manifest(rec_out)
    supervisions = lhotse.SupervisionSet.from_file(sup_out)
    assert isinstance(recordings, lhotse.RecordingSet)
    b = recordings["b"]
    assert (b.sampling_rate, b.num_samples, b.duration) == (SR, 3 * SR, 3.0)
    assert b.channel_ids == [0, 1] and len(b.sources) == 1
    assert (b.sources[0].type, b.sources[0].channels) == ("file", [0, 1])
    assert b.sources[0].source == str((tmp_path / "audio" / "b.wav").resolve())
    assert b.load_audio().shape == (2, 3 * SR)
    got = [(s.id, s.recording_id, s.start, s.duration, s.channel, s.speaker)
           for s in supervisions]
    assert got == [("a-00000", "a", 0.1, 1.2, 0, "S1"), ("a-00001", "a", 0.9, 0.7, 0, "S2"),
                   ("a-00002", "a", 1.6, 0.25, 0, "S1"), ("b-00000", "b", 0.0, 2.5, [0, 1], "S3")]
    assert list(recordings.ids) == ["a", "b", "c"]
    cuts = lhotse.CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    assert sorted(len(c.supervisions) for c in cuts) == [0, 1, 3]


def test_manifests_written_by_lhotse_are_read_turn_for_turn(tmp_path: Path,
                                                            lhotse: ModuleType) -> None:
    recordings = lhotse.RecordingSet.from_recordings(
        lhotse.Recording.from_file(wav(tmp_path / f"{uri}.flac", 2.5), recording_id=uri)
        for uri in ("r1", "r2"))
    segments = [lhotse.SupervisionSegment(f"s{i}", uri, start, duration, channel=0,
                                          speaker=spk, text="hello", language="en")
                for i, (uri, start, duration, spk) in enumerate(
                    [("r1", 0.25, 1.0, "A"), ("r1", 1.0, 1.375, "B"), ("r2", 0.5, 0.5, "A"),
                     ("r2", 1.125, 0.75, "C")])]
    recordings.to_file(tmp_path / "recordings.jsonl.gz")
    lhotse.SupervisionSet.from_segments(segments).to_file(tmp_path / "supervisions.jsonl.gz")
    result = prepared(tmp_path / "recordings.jsonl.gz", tmp_path)
    assert result.problems == () and [r.duration for r in result.recordings] == [2.5, 2.5]
    write_derived(result)
    refs = load_references(result.recordings)
    read = [(uri, t.start, t.end, t.speaker) for uri in ("r1", "r2") for t in refs[uri].turns]
    assert read == [(s.recording_id, s.start, s.end, s.speaker) for s in segments]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"recording_id": "a", "start": 0, "duration": 1}', "missing or empty 'id'"),
    ('{"id": "x", "recording_id": "a", "start": -1, "duration": 1}', "non-negative float"),
    ('{"id": "x", "recording_id": "a", "start": "0.5", "duration": 1}', "must be a number"),
    ('{"id": "a-00000", "recording_id": "a", "start": 3, "duration": 1}', "listed twice"),
])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_malformed_lines_name_the_file_and_line(corpus: Path, tmp_path: Path, line: str,
                                                message: str, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    text = json.dumps(SUPS[0]) + "\n\n" + line + "\n"
    path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    with pytest.raises(FormatError, match=message) as info:
        prepared(corpus, tmp_path, supervisions=path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_bad_recordings_and_json_list_items(tmp_path: Path) -> None:
    src = dump(tmp_path / "recordings.json", [rec("a", "a.wav", 1.0), {"id": "b"}])
    dump(tmp_path / "supervisions.json", [])
    with pytest.raises(FormatError, match=r"recordings.json: item 2: 'sources' must be"):
        prepared(src, tmp_path)
    (tmp_path / "r.jsonl.gz").write_bytes(b"plain text")
    with pytest.raises(FormatError, match="not gzip data"):
        prepared(tmp_path / "r.jsonl.gz", tmp_path, supervisions=tmp_path / "supervisions.json")


def test_problems_name_each_recording(tmp_path: Path) -> None:
    ok = str(wav(tmp_path / "ok.wav", 2.0))
    stereo = str(wav(tmp_path / "st.wav", 2.0, channels=2))
    recs = [rec("ok", ok, 2.0),
            {**rec("url", ok, 2.0), "sources": [{"type": "url", "channels": [0],
                                                 "source": "https://example.org/u.wav"}]},
            {**rec("two", ok, 2.0), "sources": [rec("", ok, 0)["sources"][0]] * 2},
            {**rec("mem", ok, 2.0), "sources": [{"type": "memory", "channels": [0],
                                                 "source": "xx"}]},
            rec("gone", "missing/g.wav", 2.0),
            rec("left", stereo, 2.0),
            rec("long", ok, 9.0),
            {**rec("fast", ok, 2.0), "transforms": [{"name": "Speed", "kwargs": {}}]},
            rec("nospk", ok, 2.0)]
    sups = [sup("ok", 0, 0, 1, "A"), sup("nospk", 0, 0, 1, None), sup("nospk", 1, 1, 1, "A"),
            sup("ghost", 0, 0, 1, "A"), sup("ok", 1, 1, 1, "John Smith")]
    dump(tmp_path / "recordings.jsonl", recs)
    dump(tmp_path / "supervisions.jsonl", sups)
    result = prepared(tmp_path, tmp_path)
    problems = {p.uri: p.message for p in result.problems}
    assert result.recordings == ()
    assert "2 audio sources (file, file)" in problems["two"]
    assert "a 'url' audio source; only 'file' sources are read (recordings.jsonl:2)" \
        == problems["url"]
    assert "a 'memory' audio source" in problems["mem"]
    assert problems["gone"] == ("no audio (missing/g.wav from neither the working directory "
                                f"nor {tmp_path})")
    assert "uses channel(s) [0] of the 2-channel" in problems["left"]
    assert "declares 9.000 s but" in problems["long"]
    assert "transforms Speed" in problems["fast"]
    assert "nospk-00000 (supervisions.jsonl:2): no speaker" in problems["nospk"]
    assert "speaker 'John Smith' with spaces" in problems["ok"]
    assert problems["ghost"] == f"no audio (not in {tmp_path / 'recordings.jsonl'})"


def test_relative_audio_from_the_cwd_then_the_manifest_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav(tmp_path / "corpus" / "wav" / "a.wav", 1.0)
    wav(tmp_path / "elsewhere" / "wav" / "a.wav", 2.0)
    dump(tmp_path / "corpus" / "recordings.jsonl", [rec("a", "wav/a.wav", 1.0)])
    dump(tmp_path / "corpus" / "supervisions.jsonl", [sup("a", 0, 0, 0.5, "A")])
    monkeypatch.chdir(tmp_path)
    (found,) = prepared(tmp_path / "corpus", tmp_path).recordings
    assert found.audio == tmp_path / "corpus" / "wav" / "a.wav"
    monkeypatch.chdir(tmp_path / "elsewhere")  # lhotse's rule wins: the cwd's 2 s file
    result = prepared(tmp_path / "corpus", tmp_path)
    assert "declares 1.000 s but wav/a.wav holds 2.000 s" in result.problems[0].message


def test_finding_the_two_manifests(corpus: Path, tmp_path: Path) -> None:
    pair = (corpus / "x_recordings_dev.jsonl.gz", corpus / "x_supervisions_dev.jsonl.gz")
    assert find_manifests(corpus) == find_manifests(pair[0]) == pair
    dump(corpus / "x_recordings_test.jsonl.gz", [])
    with pytest.raises(CorpusError, match="found x_recordings_dev.jsonl.gz, x_recordings_test"):
        find_manifests(corpus)
    with pytest.raises(CorpusError, match=r"no supervisions manifest beside it \(x_supervisions_"
                                          r"test.jsonl.gz\); give it with --supervisions"):
        find_manifests(corpus / "x_recordings_test.jsonl.gz")
    assert find_manifests(corpus / "x_recordings_test.jsonl.gz", pair[1])[1] == pair[1]
    with pytest.raises(CorpusError, match="needs reference_dir"):
        prepare("lhotse", corpus)


def test_written_gzip_is_byte_stable(corpus: Path, tmp_path: Path) -> None:
    result = prepared(corpus, tmp_path)
    write_derived(result)
    first = [p.read_bytes() for p in write_lhotse(tmp_path / "one", result.recordings)]
    second = [p.read_bytes() for p in write_lhotse(tmp_path / "two", result.recordings)]
    assert first == second


def test_cli_reads_and_writes_lhotse(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    done = runner.invoke(cli, ["prepare", "lhotse", str(corpus), "-o", str(out / "dev.jsonl"),
                               "--lhotse", str(out / "lh")])
    assert done.exit_code == 0, done.output
    assert "note: 1 recording(s) without reference turns" in done.output and ": c" in done.output
    assert sorted(p.name for p in (out / "dev-rttm").iterdir()) == ["a.rttm", "b.rttm", "c.rttm"]
    assert [r.uri for r in read_manifest(out / "dev.jsonl")] == ["a", "b", "c"]
    assert load(out / "lh" / "supervisions.jsonl.gz")[:3] == SUPS[:3]
    again = runner.invoke(cli, ["prepare", "lhotse", str(out / "lh" / "recordings.jsonl.gz"),
                                "-o", str(out / "again.jsonl")])
    assert again.exit_code == 0, again.output
    assert (out / "again-rttm" / "a.rttm").read_text() == (out / "dev-rttm" / "a.rttm").read_text()


def test_cli_writes_nothing_on_a_problem(corpus: Path, tmp_path: Path) -> None:
    dump(tmp_path / "sups.jsonl", [*SUPS, sup("c", 0, 0, 1, None)])
    result = CliRunner().invoke(cli, ["prepare", "lhotse", str(corpus), "-o",
                                      str(tmp_path / "o" / "m.jsonl"),
                                      "--supervisions", str(tmp_path / "sups.jsonl")])
    assert result.exit_code != 0 and "problem: c: 1 supervision(s) without" in result.output
    assert "nothing written" in str(result.exception) and not (tmp_path / "o").exists()


def test_ami_excerpts_through_lhotse_keep_their_references(shared_data: Path,
                                                           tmp_path: Path) -> None:
    """The AMI dev excerpts (pyannote protocol) written as lhotse manifests and read back:
    the same recordings, durations and reference turns (to the millisecond)."""
    database = shared_data / "ami-excerpts" / "database.yml"
    ami = prepare("pyannote", database, protocol="Debug.SpeakerDiarization.Debug",
                  subset="development")
    write_lhotse(tmp_path / "lh", ami.recordings)
    back = prepared(tmp_path / "lh", tmp_path)
    write_derived(back)
    assert back.problems == () and [r.uri for r in back.recordings] == ["dev00", "dev01"]
    before, after = load_references(ami.recordings), load_references(back.recordings)
    for one, two in zip(ami.recordings, back.recordings):
        assert one.duration == two.duration and one.speakers == two.speakers
        assert [(round(t.start, 3), round(t.end, 3), t.speaker) for t in before[one.uri]] == \
            [(round(t.start, 3), round(t.end, 3), t.speaker) for t in after[two.uri]]
