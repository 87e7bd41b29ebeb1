"""Statistics of a diarization data set: hours, speakers, overlap, turn and gap lengths.

    python benchmarks/dataset_stats.py MANIFEST.jsonl [MANIFEST.jsonl ...]
    python benchmarks/dataset_stats.py --rttm REF.rttm|DIR [--uem FILE.uem] [--name NAME]
    python benchmarks/dataset_stats.py --ami --data DIR   # DIR/ami-excerpts (or $DIAREFINE_DATA)
    ... [--json OUT.json]

Definitions (overlap ratio, turn, pause, transition offset) are those of
``diarefine.data.stats``. Recordings are cropped to their UEM; without one, to the
audio length (manifests) or the reference extent (bare RTTMs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from paths import add_data_argument, data_folder

from diarefine.core.timeline import Timeline
from diarefine.data.manifest import load_references, load_scoring_regions, read_manifest
from diarefine.data.stats import collect, format_stats, pairs_from_files
from diarefine.io.rttm import load_rttms
from diarefine.io.uem import read_uem


def manifest_pairs(path: Path):
    recordings = read_manifest(path)
    refs, regions = load_references(recordings), load_scoring_regions(recordings)
    out = []
    for r in recordings:
        region = regions[r.uri]
        if region is None and r.duration is not None:
            region = Timeline([(0.0, r.duration)])
        out.append((refs[r.uri], region))
    return out


def ami_pairs(data: Path):
    folder = data / "ami-excerpts"
    refs, uem = {}, {}
    for part in ("train", "development", "test"):
        refs.update(load_rttms(folder / f"debug.{part}.rttm"))
        uem.update(read_uem(folder / f"debug.{part}.uem").regions)
    return pairs_from_files(refs, uem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="*", type=Path)
    parser.add_argument("--rttm", type=Path, help="reference RTTM file or folder")
    parser.add_argument("--uem", type=Path, help="UEM of --rttm")
    parser.add_argument("--ami", action="store_true", help="the AMI excerpts of the data folder")
    add_data_argument(parser)
    parser.add_argument("--name", default=None)
    parser.add_argument("--json", type=Path, help="also write the statistics as JSON")
    args = parser.parse_args()
    reports = {}
    for path in args.manifests:
        reports[args.name or str(path)] = collect(manifest_pairs(path)).as_dict()
    if args.rttm is not None:
        uem = read_uem(args.uem).regions if args.uem else None
        pairs = pairs_from_files(load_rttms(args.rttm), uem)
        reports[args.name or str(args.rttm)] = collect(pairs).as_dict()
    if args.ami:
        data = data_folder(args.data, "ami-excerpts")
        reports["AMI excerpts (14 x 30 s)"] = collect(ami_pairs(data)).as_dict()
    if not reports:
        parser.error("give a manifest, --rttm or --ami")
    print("\n\n".join(format_stats(name, stats) for name, stats in reports.items()))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2) + "\n")


if __name__ == "__main__":
    main()
