"""Clustering of (chunk, local speaker) embeddings into global speakers: an open registry.

A clusterer is any callable ``(embeddings (N, D), constraints) -> labels (N,)`` with
labels ``0..S-1``; register new ones with :func:`register` and select them by name in
the configuration (``[clustering] method = "ahc"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from diarefine.stages.base import SpeakerConstraints


class Clusterer(Protocol):
    def __call__(
        self, embeddings: NDArray[np.float32], constraints: SpeakerConstraints
    ) -> NDArray[np.int64]:
        """embeddings (N, D) -> labels (N,) in 0..S-1."""
        ...


_REGISTRY: dict[str, Callable[..., Clusterer]] = {}


def register(name: str) -> Callable[[Callable[..., Clusterer]], Callable[..., Clusterer]]:
    """Class decorator: make a clusterer constructible by name."""
    def wrap(factory: Callable[..., Clusterer]) -> Callable[..., Clusterer]:
        _REGISTRY[name] = factory
        return factory
    return wrap


def available() -> tuple[str, ...]:
    _load_builtins()
    return tuple(sorted(_REGISTRY))


def declared_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters clusterer ``name`` declares, with their defaults (its
    dataclass fields, or its constructor's keyword arguments)."""
    import dataclasses
    import inspect

    _load_builtins()
    factory = _REGISTRY[name]
    if dataclasses.is_dataclass(factory):
        return {f.name: f.default for f in dataclasses.fields(factory) if f.init}
    return {k: p.default for k, p in inspect.signature(factory).parameters.items()
            if p.default is not inspect.Parameter.empty}


def build_clusterer(name: str, **params: Any) -> Clusterer:
    """The registered clusterer ``name`` built with ``params``."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown clustering method {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name](**params)


def _load_builtins() -> None:
    from diarefine.stages.clustering import ahc, spectral, vbx  # noqa: F401  (registers)
