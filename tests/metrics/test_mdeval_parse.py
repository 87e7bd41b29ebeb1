"""Parsing md-eval-22's report (no md-eval needed): values, and a clear refusal."""

from __future__ import annotations

import pytest

from diarefine.metrics.mdeval import parse_mdeval


def _block(name: str, miss: str | None = "1.50", fa: str = "0.25", conf: str = "2.00") -> str:
    lines = [f"*** Performance analysis for Speaker Diarization for {name} ***",
             " SCORED SPEAKER TIME =10.00 secs"]
    if miss is not None:
        lines.append(f" MISSED SPEAKER TIME ={miss} secs")
    lines += [f" FALARM SPEAKER TIME =   {fa} secs", f" SPEAKER ERROR TIME ={conf} secs",
              " OVERALL SPEAKER DIARIZATION ERROR = 37.50 percent"]
    return "\n".join(lines) + "\n"


def test_parses_each_file_and_the_total() -> None:
    out = parse_mdeval(_block("f=rec1", "1.50", "0.25", "2.00") + _block("ALL", "3", "0", "0.5"))
    assert set(out.files) == {"rec1"}
    rec = out.files["rec1"]
    assert (rec.miss, rec.false_alarm, rec.confusion) == (1.5, 0.25, 2.0)
    assert (out.overall.miss, out.overall.false_alarm, out.overall.confusion) == (3.0, 0.0, 0.5)


def test_a_block_without_a_field_is_refused_by_name() -> None:
    with pytest.raises(RuntimeError, match="MISSED SPEAKER TIME.*f=rec1"):
        parse_mdeval(_block("f=rec1", miss=None) + _block("ALL"))


def test_output_without_a_total_is_refused() -> None:
    with pytest.raises(RuntimeError, match="could not parse"):
        parse_mdeval(_block("f=rec1"))
