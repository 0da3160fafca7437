"""timm-style registry: ``@register_model("hog-svm", ...)`` factories found by name or glob.

A factory is called as ``factory(imbalance=..., seed=..., n_classes=..., **options)`` and returns
an estimator with ``fit(X, y)`` and ``predict_proba(X)`` (classical entries return a real
scikit-learn / imbalanced-learn estimator or pipeline). ``X`` is whatever the entry's feature
transform (``hybench.features.get_feature(spec.features)``) produces from uint8 images. Entries with
``needs_validation`` also receive ``validation_data=(X_val, y_val)`` in ``fit`` (early stopping).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybench.errors import HybenchError
from hybench.registry import Registry, origin_of

IMBALANCE_STRATEGIES = ("none", "class-weight", "smote", "oversample")
FAMILIES = ("classical", "cnn", "backbone")
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
    deterministic: bool = False
    feature_params: dict = field(default_factory=dict)
    options: tuple[str, ...] | None = None  # None: the factory checks its own options

    def supports(self, strategy: str) -> bool:
        return strategy in self.imbalance

    def check_options(self, options: dict[str, Any]) -> None:
        """One-line error for an option this entry does not take, before anything runs.

        Entries registered with ``options`` are checked against that list; the others are built
        once with the options (a factory is cheap; classical ones reject unknown names).
        """
        if not options:
            return
        if self.options is not None:
            unknown = sorted(set(options) - set(self.options))
            if unknown:
                raise HybenchError(f"{self.name} takes no option(s) {', '.join(unknown)}",
                                   f"known options: {', '.join(self.options)}")
            return
        try:
            self.factory(imbalance=self.imbalance[0], seed=0, n_classes=2, **options)
        except HybenchError:
            raise
        except Exception as exc:
            raise HybenchError(
                f"{self.name} cannot be built with options {options}: {type(exc).__name__}: {exc}",
                "fix the option names or values",
            ) from exc

    def unsupported_reason(self, strategy: str) -> str:
        return (
            f"{self.name} does not support imbalance strategy {strategy!r} "
            f"(supported: {', '.join(self.imbalance)})"
        )


MODELS: Registry[ModelSpec] = Registry(
    "model",
    builtins=("hybench.models.classical", "hybench.models.cnn", "hybench.models.backbones"),
    entry_point_group=ENTRY_POINT_GROUP,
    list_command="hybench models",
)


def register_model(
    name: str,
    *,
    family: str,
    features: str,
    imbalance: Iterable[str] = ("none", "class-weight", "smote"),
    description: str = "",
    needs_validation: bool = False,
    deterministic: bool | None = None,
    feature_params: dict | None = None,
    options: Iterable[str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated factory under ``name`` (a name already taken is an error).

    ``deterministic``: the same seed gives the same predictions (default: classical entries only;
    the conformance suite checks it). ``options``: the option names the factory takes, for
    factories that should not be called just to check them (Keras entries); leave None when the
    factory rejects unknown options itself.
    """
    if family not in FAMILIES:
        raise HybenchError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}",
                           f"fix the registration of {name!r}")
    unknown = set(imbalance) - set(IMBALANCE_STRATEGIES)
    if unknown:
        raise HybenchError(f"{name!r}: unknown imbalance strategies {sorted(unknown)}",
                           f"use any of {', '.join(IMBALANCE_STRATEGIES)}")

    def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
        doc = (factory.__doc__ or "").strip().splitlines()
        spec = ModelSpec(
            name=name,
            factory=factory,
            family=family,
            features=features,
            imbalance=tuple(imbalance),
            description=description or (doc[0] if doc else ""),
            needs_validation=needs_validation,
            deterministic=family == "classical" if deterministic is None else deterministic,
            feature_params=dict(feature_params or {}),
            options=None if options is None else tuple(options),
        )
        MODELS.register(name, spec, origin=origin_of(factory))
        return factory

    return decorator


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
        except HybenchError:
            raise
        except Exception as exc:
            raise HybenchError(
                f"plugin {path} failed to import: {type(exc).__name__}: {exc}", "fix the plugin"
            ) from exc


def list_models(pattern: str | Iterable[str] = "*", family: str | None = None) -> list[str]:
    """Names matching one glob or any of several globs, sorted."""
    return [n for n in MODELS.names(pattern) if family is None or MODELS.get(n).family == family]


def resolve_models(patterns: Iterable[str]) -> list[str]:
    """Every name matched by ``patterns``; a glob that matches nothing is a user error."""
    return MODELS.resolve(patterns)


def get_model(name: str) -> ModelSpec:
    return MODELS.get(name)


def create_model(name: str, *, imbalance: str, seed: int, n_classes: int, **options: Any) -> Any:
    """Build a fresh estimator; raise ``NotApplicable`` for an unsupported imbalance strategy."""
    spec = get_model(name)
    if not spec.supports(imbalance):
        raise NotApplicable(spec.unsupported_reason(imbalance))
    if spec.options is not None:  # declared names: checked here, not by the factory
        spec.check_options(options)
    return spec.factory(imbalance=imbalance, seed=seed, n_classes=n_classes, **options)
