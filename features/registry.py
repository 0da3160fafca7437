"""Feature registry: a named, parametrised transform from uint8 images ``(N, H, W, C)``.

``fn(images, **params) -> np.ndarray`` of shape ``(N, ...)``; float32 for vectors. The identity
feature ``image`` hands raw uint8 images to entries that preprocess inside the model (CNNs).
What a feature can do (be cached, run in a process pool, resolve its params, count the
parameters of a frozen network) is a field of its :class:`FeatureSpec`.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from hybench.errors import HybenchError
from hybench.registry import Registry, origin_of


@dataclass(frozen=True)
class FeatureSpec:
    """A registered feature transform and its capabilities.

    ``cacheable``: results may be stored on disk per dataset. ``parallel``: batches may run in a
    process pool (False for transforms that parallelise themselves, e.g. a TensorFlow network).
    ``resolve_params(params) -> params`` checks and completes params (e.g. a weights file hash);
    ``count_params(**params) -> int`` counts the parameters of a frozen network.
    ``libraries``: distributions whose versions change the output (part of the cache key).
    ``files(params) -> {param: path}`` names the local files the transform reads (e.g. weights),
    so an executor on another machine can ship them and point the param at its own copy.
    """

    name: str
    fn: Callable[..., np.ndarray]
    defaults: dict[str, Any] = field(default_factory=dict)
    cacheable: bool = True
    parallel: bool = True
    resolve_params: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    count_params: Callable[..., int] | None = None
    description: str = ""
    libraries: tuple[str, ...] = ("numpy",)
    files: Callable[[dict[str, Any]], dict[str, Path]] | None = None


@dataclass(frozen=True)
class Feature:
    """A feature transform bound to its parameters."""

    spec: FeatureSpec
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def cacheable(self) -> bool:
        return self.spec.cacheable

    def key(self) -> str:
        """Cache file id of everything that determines the output: name, params, the source of the
        module defining the transform, and the versions of the libraries it uses."""
        blob = json.dumps(
            {"name": self.name, "params": self.params, "code": code_hash(self.spec.fn),
             "libraries": {name: _version(name) for name in self.spec.libraries}},
            sort_keys=True, default=str,
        )
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def transform(self, images: np.ndarray) -> np.ndarray:
        return self.spec.fn(images, **self.params)

    def n_parameters(self) -> int:
        """Parameters of the frozen network behind the feature (0 for plain transforms)."""
        count = self.spec.count_params
        return int(count(**self.params)) if count is not None else 0

    def files(self) -> dict[str, Path]:
        """The local files the transform reads, by the parameter that names them."""
        return self.spec.files(self.params) if self.spec.files else {}


def code_hash(fn: Callable[..., Any]) -> str:
    """Hash of the source file defining ``fn`` and of the other ``hybench.features`` modules
    whose names that file uses (e.g. the batch HOG behind ``hog``): any edit there invalidates
    cached features."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn)
    try:
        path = inspect.getsourcefile(target)
    except (TypeError, OSError):  # built-in or interactively defined: its name only
        path = None
    if not path:
        return f"{target.__module__}.{target.__qualname__}"
    paths = [path, *sorted(_helper_sources(sys.modules.get(target.__module__)) - {path})]
    return hashlib.sha256("".join(map(_file_hash, paths)).encode()).hexdigest()[:16]


def _helper_sources(module: ModuleType | None) -> set[str]:
    """Source files of the feature modules (not this registry) that ``module`` imports from."""
    sources = set()
    for value in vars(module).values() if module else ():
        owner = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if owner.startswith(__package__ + ".") and owner != __name__:
            with contextlib.suppress(TypeError, OSError):
                sources.add(inspect.getsourcefile(value) or "")
    return sources - {""}


@cache
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


FEATURES: Registry[FeatureSpec] = Registry(
    "feature", builtins=("hybench.features.image", "hybench.features.embeddings")
)


def register_feature(
    name: str,
    *,
    defaults: dict[str, Any] | None = None,
    cacheable: bool = True,
    parallel: bool = True,
    resolve_params: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    count_params: Callable[..., int] | None = None,
    libraries: tuple[str, ...] = ("numpy",),
    files: Callable[[dict[str, Any]], dict[str, Path]] | None = None,
):
    """Register ``fn(images, **params)`` as feature ``name`` with default params; ``libraries``
    name the distributions whose versions change its output, ``files`` the files it reads."""

    def decorator(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        doc = (fn.__doc__ or "").strip().splitlines()
        spec = FeatureSpec(name, fn, dict(defaults or {}), cacheable, parallel, resolve_params,
                           count_params, doc[0] if doc else "", tuple(libraries), files)
        FEATURES.register(name, spec, origin=origin_of(fn))
        return fn

    return decorator


def list_features(pattern: str = "*") -> list[str]:
    return FEATURES.names(pattern)


def get_feature(name: str, **params: Any) -> Feature:
    """The feature ``name`` with its defaults overridden by ``params`` (unknown params rejected)."""
    spec = FEATURES.get(name)
    unknown = set(params) - set(spec.defaults)
    if unknown:
        raise HybenchError(
            f"feature {name!r} has no parameter(s) {', '.join(sorted(unknown))}",
            f"known parameters: {', '.join(sorted(spec.defaults)) or 'none'}",
        )
    merged = {**spec.defaults, **params}
    return Feature(spec, spec.resolve_params(merged) if spec.resolve_params else merged)
