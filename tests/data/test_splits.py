"""Speaker-disjoint splits: a stable rule of the speaker alone, and checks that refuse leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diarefine.data.sources import SourceUtterance, load_sources, subset_of
from diarefine.data.splits import (
    SplitError,
    assign_split,
    check_disjoint,
    select_speakers,
    speaker_bucket,
    speaker_splits,
    split_counts,
)


def utt(speaker: str, name: str) -> SourceUtterance:
    return SourceUtterance(speaker, name, Path(name), subset_of(name))


def test_pinned_assignments() -> None:
    # The rule must never change silently: these values come from sha1("diarefine-split:<id>").
    assert [speaker_bucket(s) for s in ("103", "1034", "1688", "8975")] == [0, 29, 45, 97]
    assert assign_split("8975") == "test" and assign_split("103") == "train"


def test_proportions_about_80_10_10() -> None:
    counts = split_counts({str(i): assign_split(str(i)) for i in range(20_000)})
    assert counts["train"] / 20_000 == pytest.approx(0.8, abs=0.015)
    assert counts["dev"] / 20_000 == pytest.approx(0.1, abs=0.01)
    assert counts["test"] / 20_000 == pytest.approx(0.1, abs=0.01)


def test_librispeech_held_out_subsets_stay_held_out() -> None:
    # 1688 hashes to train, but its LibriSpeech subset is test-other.
    assert assign_split("1688", "test-other") == "test"
    assert assign_split("1688", "dev-clean") == "dev"
    assert assign_split("1688", "train-clean-100") == assign_split("1688") == "train"


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
       st.lists(st.text(min_size=1, max_size=8), max_size=30, unique=True))
def test_adding_speakers_never_moves_existing_ones(first: list[str], more: list[str]) -> None:
    before = speaker_splits(utt(s, f"{s}.flac") for s in first)
    after = speaker_splits(utt(s, f"{s}.flac") for s in first + [m for m in more
                                                                if m not in first])
    assert {s: after[s] for s in before} == before


def test_speaker_in_two_subsets_is_refused_by_name() -> None:
    with pytest.raises(SplitError, match=r"1688 \(test: .*test-other.*train: "):
        speaker_splits([utt("1688", "test-other/1688-1-0.flac"),
                        utt("1688", "train-clean-100/1688-2-0.flac")])


def test_forced_speaker_list_outside_split_is_refused() -> None:
    splits = {"a": "train", "b": "test", "c": "test"}
    assert select_speakers(splits, "test") == ["b", "c"]
    assert select_speakers(splits, "test", ["c"]) == ["c"]
    with pytest.raises(SplitError, match=r"a \(train\)"):
        select_speakers(splits, "test", ["a", "b"])
    with pytest.raises(SplitError, match="zz"):
        select_speakers(splits, "test", ["zz"])


def test_check_disjoint_names_the_shared_speaker() -> None:
    check_disjoint([("r1", "train", ["a", "b"]), ("r2", "test", ["c"]), ("r3", None, ["a"])])
    with pytest.raises(SplitError, match=r"b in test \(r2\), train \(r1\)"):
        check_disjoint([("r1", "train", ["a", "b"]), ("r2", "test", ["b"])])


def test_real_librispeech_splits_are_disjoint_and_keep_test_other(shared_data: Path) -> None:
    utterances = load_sources(shared_data / "librispeech-261")
    splits = speaker_splits(utterances)
    assert len(splits) == 261
    assert split_counts(splits) == {"train": 193, "dev": 25, "test": 43}
    test_other = {u.speaker for u in utterances if u.subset == "test-other"}
    assert len(test_other) == 10 and all(splits[s] == "test" for s in test_other)
