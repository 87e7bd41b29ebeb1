"""The gate-test fixture: 32 real refiner examples (tests/fixtures/refiner32.npz).

    diarefine refiner-data benchmarks/data/ami-train.jsonl -o /tmp/ami-train.h5
    python scripts/make_refiner_fixture.py /tmp/ami-train.h5

Takes the first 32 matched boundaries (a reference partner within 0.5 s) of the file in
storage order: their windows of features (float16), static features, and targets (the
correction, and the activity head's per-frame targets and mask), as the pipeline made them
on the AMI excerpts' training split (AMI corpus, CC BY 4.0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from diarefine.train.activity import activity_targets
from diarefine.train.dataset import read_refiner_data

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "refiner32.npz"


def main() -> None:
    data = read_refiner_data(sys.argv[1:])
    rows = np.flatnonzero(data.matched)[:32]
    if len(rows) < 32:
        sys.exit(f"only {len(rows)} matched boundaries")
    activity, mask = activity_targets(data.subset(rows))
    np.savez_compressed(OUT, frames=data.frames[rows].astype(np.float16),
                        activity=activity.astype(bool), activity_mask=mask,
                        static=data.static[rows].astype(np.float16),
                        offset=data.offset[rows], matched=data.matched[rows],
                        uris=np.array([data.recordings[r].uri for r in data.recording[rows]]))
    print(f"{OUT}: {len(rows)} examples, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
