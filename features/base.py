"""Feature registry: a named, parametrised transform from uint8 images ``(N, H, W, C)``.

``fn(images, **params) -> np.ndarray`` of shape ``(N, ...)``; float32 for vectors. The identity
feature ``image`` hands raw uint8 images to entries that preprocess inside the model (CNNs).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import HybenchError

BUILTIN_MODULES = ("features.image", "features.embeddings")


@dataclass(frozen=True)
class Feature:
    """A feature transform bound to its parameters."""

    name: str
    fn: Callable[..., np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    cacheable: bool = True

    def key(self) -> str:
        """Stable id of (name, params) for cache file names."""
        blob = json.dumps({"name": self.name, "params": self.params}, sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.fn(images, **self.params)


_FEATURES: dict[str, tuple[Callable[..., np.ndarray], dict[str, Any], bool]] = {}


def register_feature(name: str, *, defaults: dict[str, Any] | None = None, cacheable: bool = True):
    """Register ``fn(images, **params)`` as feature ``name`` with default params."""

    def decorator(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        _FEATURES[name] = (fn, dict(defaults or {}), cacheable)
        return fn

    return decorator


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def list_features() -> list[str]:
    _load_builtins()
    return sorted(_FEATURES)


def get_feature(name: str, **params: Any) -> Feature:
    """The feature ``name`` with its defaults overridden by ``params`` (unknown params rejected)."""
    _load_builtins()
    if name not in _FEATURES:
        raise HybenchError(
            f"unknown feature {name!r}", f"use one of {', '.join(sorted(_FEATURES))}"
        )
    fn, defaults, cacheable = _FEATURES[name]
    unknown = set(params) - set(defaults)
    if unknown:
        raise HybenchError(
            f"feature {name!r} has no parameter(s) {', '.join(sorted(unknown))}",
            f"known parameters: {', '.join(sorted(defaults)) or 'none'}",
        )
    merged = {**defaults, **params}
    resolve = getattr(fn, "resolve_params", None)  # e.g. adds the hash of a weights file
    return Feature(name, fn, resolve(merged) if callable(resolve) else merged, cacheable)
