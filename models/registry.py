"""timm-style registry: ``@register_model("hog-svm", ...)`` factories found by name or glob.

A factory is called as ``factory(imbalance=..., seed=..., n_classes=..., **options)`` and returns
an estimator with ``fit(X, y)`` and ``predict_proba(X)`` (classical entries return a real
scikit-learn / imbalanced-learn estimator or pipeline). ``X`` is whatever the entry's feature
transform (``features.get_feature(spec.features)``) produces from uint8 images. Entries with
``needs_validation`` also receive ``validation_data=(X_val, y_val)`` in ``fit`` (early stopping).
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from bench.errors import HybenchError

IMBALANCE_STRATEGIES = ("none", "class-weight", "smote", "oversample")
FAMILIES = ("classical", "cnn", "backbone")
BUILTIN_MODULES = ("models.classical", "models.cnn", "models.backbones")
ENTRY_POINT_GROUP = "hybench.models"


class NotApplicable(Exception):
    """The entry does not support the requested imbalance strategy (recorded, never substituted)."""


@dataclass(frozen=True)
class ModelSpec:
    """One registered entry."""

    name: str
    factory: Callable[..., Any]
    family: str
    features: str
    imbalance: tuple[str, ...]
    description: str = ""
    needs_validation: bool = False
    feature_params: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def supports(self, strategy: str) -> bool:
        return strategy in self.imbalance

    def unsupported_reason(self, strategy: str) -> str:
        return (
            f"{self.name} does not support imbalance strategy {strategy!r} "
            f"(supported: {', '.join(self.imbalance)})"
        )


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    family: str,
    features: str,
    imbalance: Iterable[str] = ("none", "class-weight", "smote"),
    description: str = "",
    needs_validation: bool = False,
    feature_params: dict | None = None,
    tags: Iterable[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated factory under ``name``. Re-registering a name replaces it."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    unknown = set(imbalance) - set(IMBALANCE_STRATEGIES)
    if unknown:
        raise ValueError(f"unknown imbalance strategies {sorted(unknown)}")

    def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelSpec(
            name=name,
            factory=factory,
            family=family,
            features=features,
            imbalance=tuple(imbalance),
            description=description or (doc[0] if doc else ""),
            needs_validation=needs_validation,
            feature_params=dict(feature_params or {}),
            tags=tuple(tags),
        )
        return factory

    return decorator


def load_builtin_models() -> None:
    """Import the built-in entry modules and any ``hybench.models`` entry points."""
    for module in BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def load_plugins(paths: Iterable[str | Path]) -> None:
    """Import user files (``--plugins my_entries.py``) so their ``@register_model`` calls run."""
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise HybenchError(f"plugin file not found: {path}", "pass a path to a .py file")
        module_name = f"hybench_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise HybenchError(f"cannot import plugin {path}", "pass a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise HybenchError(
                f"plugin {path} failed to import: {type(exc).__name__}: {exc}", "fix the plugin"
            ) from exc


def list_models(pattern: str | Iterable[str] = "*", family: str | None = None) -> list[str]:
    """Names matching one glob or any of several globs, sorted."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    return sorted(
        name
        for name, spec in _REGISTRY.items()
        if any(fnmatch.fnmatch(name, p) for p in patterns)
        and (family is None or spec.family == family)
    )


def resolve_globs(patterns: Iterable[str]) -> list[str]:
    """Every name matched by ``patterns``; a glob that matches nothing is a user error."""
    names: list[str] = []
    for pattern in patterns:
        matched = list_models(pattern)
        if not matched:
            raise HybenchError(
                f"model glob {pattern!r} matches no registered entry",
                "run `hybench models` to list entries",
            )
        names.extend(n for n in matched if n not in names)
    return names


def get_model(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise HybenchError(f"unknown model {name!r}", "run `hybench models` to list entries")
    return _REGISTRY[name]


def create_model(name: str, *, imbalance: str, seed: int, n_classes: int, **options: Any) -> Any:
    """Build a fresh estimator; raise ``NotApplicable`` for an unsupported imbalance strategy."""
    spec = get_model(name)
    if not spec.supports(imbalance):
        raise NotApplicable(spec.unsupported_reason(imbalance))
    return spec.factory(imbalance=imbalance, seed=seed, n_classes=n_classes, **options)
