"""Registered datasets: ``@register_dataset("name", ...)`` loaders found by name or glob."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hybench.data.dataset import Dataset
from hybench.registry import Registry, origin_of


@dataclass(frozen=True)
class DataPaths:
    """Where a loader looks for local files (``data_dir``, may be None) and puts downloads."""

    data_dir: Path | None
    downloads: Path


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: ``load(paths: DataPaths, **options) -> Dataset`` and where it looks."""

    name: str
    load: Callable[..., Dataset]
    description: str
    where: str


DATASETS: Registry[DatasetSpec] = Registry(
    "dataset",
    builtins=("hybench.data.medmnist", "hybench.data.synthetic"),
    list_command="hybench datasets",
)


def register_dataset(name: str, *, description: str, where: str):
    """Register ``fn(paths: DataPaths, **options) -> Dataset`` under ``name``."""

    def decorator(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        origin = origin_of(getattr(fn, "func", fn))  # a functools.partial names its function
        DATASETS.register(name, DatasetSpec(name, fn, description, where), origin=origin)
        return fn

    return decorator


def list_datasets(pattern: str = "*") -> list[DatasetSpec]:
    """Registered datasets whose name matches ``pattern``, sorted by name."""
    return [DATASETS.get(name) for name in DATASETS.names(pattern)]


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset ``name`` (unknown names list close matches)."""
    return DATASETS.get(name)
