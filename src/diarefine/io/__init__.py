"""Reading and writing RTTM, UEM and (in io.audio) audio; atomic file output."""

from diarefine.io.rttm import load_rttms, parse_rttm, read_rttm, rttm_lines, write_rttm
from diarefine.io.uem import Uem, parse_uem, read_uem, write_uem

__all__ = [
    "Uem", "load_rttms", "parse_rttm", "parse_uem", "read_rttm", "read_uem", "rttm_lines",
    "write_rttm", "write_uem",
]
