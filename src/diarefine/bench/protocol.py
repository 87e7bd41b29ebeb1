"""What a benchmark table must state beside its figures: how it was scored, with which
configuration and model files, by which diarefine, on which machine.

Nothing here imports torch; the model files are found from the configuration by name
(the shipped ones in ``diarefine/weights``) and identified by their SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

from diarefine.config import PipelineConfig

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = {"segmentation-3.0": "segmentation-3.0.safetensors",
           "campplus": "campplus-zh-en-common.safetensors"}
#: CPU features that change what a runtime computes or how fast (README, issue 22)
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "fma")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_files(config: PipelineConfig) -> dict[str, Path]:
    """The files whose weights shape the output: segmentation, CAM++, PLDA (VBx), refiner."""
    from diarefine.stages.refinement import LEARNED, refiner_file

    seg, emb = config.segmentation.model, config.embedding.model
    files = {"segmentation": WEIGHTS / SHIPPED[seg] if seg in SHIPPED else Path(seg),
             "embedding": WEIGHTS / SHIPPED[emb] if emb in SHIPPED else Path(emb)}
    if config.clustering.method == "vbx":
        plda = config.clustering.params.get("plda")
        bundled = WEIGHTS / "plda_campplus.safetensors"
        files["plda"] = Path(plda) if isinstance(plda, str) else bundled
    name = config.refiner.name
    if name != "none":
        path = refiner_file(name) if name == "shift" or name in LEARNED else Path(name)
        files["refiner"] = path
        if path.suffix == ".safetensors" and path.with_suffix(".json").exists():
            files["refiner_card"] = path.with_suffix(".json")
    return files


def machine() -> dict[str, Any]:
    """CPU model and the flags that matter, cores, OS and Python."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")) and ":" in line:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": model, "cpu_flags": [f for f in CPU_FLAGS if f in flags],
            "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
            "python": sys.version.split()[0]}


def protocol(config: PipelineConfig, collar: float, skip_overlap: bool,
             manifests: list[Path], uem_files: int, total_files: int) -> dict[str, Any]:
    """The protocol block of ``report.json`` (see :func:`protocol_text`)."""
    from diarefine import __version__

    return {
        "collar": collar,
        "collar_semantics": "seconds on each side of every reference boundary (md-eval -c)",
        "overlap": "excluded (md-eval -1)" if skip_overlap else "scored",
        "skip_overlap": skip_overlap,
        "uem": f"{uem_files} of {total_files} recordings scored within their manifest UEM; "
               "the others from the first to the last reference time (md-eval's default)",
        "scorer": "diarefine (md-eval-22 exact: optimal one-to-one speaker mapping)",
        "refiner": config.refiner.name,
        "configuration": config.to_dict(),
        "models": {role: {"file": str(path), "sha256": sha256(path)}
                   for role, path in model_files(config).items()},
        "manifests": [{"file": str(path), "sha256": sha256(path)} for path in manifests],
        "diarefine": __version__,
        "machine": machine(),
    }


def protocol_text(p: dict[str, Any]) -> str:
    """The lines printed above the benchmark table."""
    m = p["machine"]
    flags = ", ".join(m["cpu_flags"]) or "none of " + ", ".join(CPU_FLAGS)
    models = ", ".join(f"{role} {Path(v['file']).name} ({v['sha256'][:12]})"
                       for role, v in p["models"].items())
    return "\n".join([
        f"Protocol: collar {p['collar']:g} s per side, overlap {p['overlap']}, {p['uem']}.",
        f"Scorer: {p['scorer']}. Refiner: {p['refiner']}.",
        f"Models: {models}.",
        f"diarefine {p['diarefine']}; {m['cpu']} ({m['cores']} cores; {flags}); "
        f"{m['system']}; Python {m['python']}.",
    ])
