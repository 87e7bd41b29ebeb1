"""Run NIST's md-eval-22.pl (the reference scorer) when it is installed, and parse it.

Used by the conformance tests and the scoring benchmark; handy for users who want to
check a figure against the reference. Debian/Ubuntu: ``apt-get install sctk``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from diarefine.core.annotation import Annotation
from diarefine.core.timeline import Timeline
from diarefine.io.rttm import write_rttm
from diarefine.io.uem import write_uem
from diarefine.metrics.der import DerComponents

CANDIDATES = ("/usr/lib/sctk/bin/md-eval.pl", "/usr/share/sctk/bin/md-eval.pl")

_BLOCK = re.compile(r"Performance analysis for Speaker Diarization for (\S+) \*\*\*(.*?)"
                    r"OVERALL SPEAKER DIARIZATION ERROR", re.S)
_FIELDS = {
    "scored": r"SCORED SPEAKER TIME =\s*([\d.]+)",
    "miss": r"MISSED SPEAKER TIME =\s*([\d.]+)",
    "false_alarm": r"FALARM SPEAKER TIME =\s*([\d.]+)",
    "confusion": r"SPEAKER ERROR TIME =\s*([\d.]+)",
}


def find_mdeval() -> str | None:
    """Path of md-eval-22.pl: ``$MDEVAL`` if set, else sctk's usual places, else PATH."""
    env = os.environ.get("MDEVAL")
    if env:
        return env if Path(env).exists() else None
    for path in CANDIDATES:
        if Path(path).exists():
            return path
    return shutil.which("md-eval.pl") or shutil.which("md-eval-22.pl")


@dataclass(frozen=True)
class MdEvalResult:
    """Components as md-eval printed them (seconds, 2 decimals), by file and overall."""

    files: dict[str, DerComponents]
    overall: DerComponents
    stdout: str


def parse_mdeval(stdout: str) -> MdEvalResult:
    files: dict[str, DerComponents] = {}
    overall = None
    for name, body in _BLOCK.findall(stdout):
        values = {}
        for key, rx in _FIELDS.items():
            found = re.search(rx, body)
            if found is None:
                raise RuntimeError(f"could not parse md-eval output: no {rx.split(' =')[0]!r} "
                                   f"for {name}:\n{body[-2000:]}")
            values[key] = float(found.group(1))
        comps = DerComponents(**values)
        if name == "ALL":
            overall = comps
        else:
            files[name.removeprefix("f=")] = comps
    if overall is None:
        raise RuntimeError(f"could not parse md-eval output:\n{stdout[-2000:]}")
    return MdEvalResult(files, overall, stdout)


def run_mdeval(
    references: Mapping[str, Annotation],
    hypotheses: Mapping[str, Annotation],
    uem: Mapping[str, Timeline] | None = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    mdeval: str | None = None,
) -> MdEvalResult:
    """Score with md-eval-22 (per file with ``-af``); raises if md-eval is absent or fails."""
    script = mdeval or find_mdeval()
    if script is None:
        raise FileNotFoundError("md-eval-22.pl not found (apt-get install sctk, or set MDEVAL)")
    with tempfile.TemporaryDirectory(prefix="diarefine-mdeval-") as tmp:
        ref_path, hyp_path = Path(tmp, "ref.rttm"), Path(tmp, "hyp.rttm")
        write_rttm(ref_path, list(references.values()))
        write_rttm(hyp_path, list(hypotheses.values()))
        cmd = ["perl", script, "-af", "-r", str(ref_path), "-s", str(hyp_path),
               "-c", repr(float(collar))]
        if uem is not None:
            uem_path = Path(tmp, "all.uem")
            write_uem(uem_path, uem)
            cmd += ["-u", str(uem_path)]
        if skip_overlap:
            cmd.append("-1")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"md-eval failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return parse_mdeval(proc.stdout)
