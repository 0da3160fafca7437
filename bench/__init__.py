"""hybench: classical-plus-deep hybrid benchmarking for image classification.

The flow runs one way through the subpackages: ``data`` (datasets, split plans) -> ``features``
-> ``models`` (entry fit/predict) -> ``execution`` (plan, isolated cells) -> ``results`` (records,
run directories, statistics) -> ``report`` (leaderboards, HTML report, compare).

The public API below is imported on first use, so ``import hybench`` (and the CLI) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily below
    from hybench.data.catalog import register_dataset
    from hybench.features.registry import register_feature
    from hybench.models.registry import get_model, list_models, register_model

__version__ = "0.1.0"

_PUBLIC = {
    "register_model": "hybench.models.registry",
    "list_models": "hybench.models.registry",
    "get_model": "hybench.models.registry",
    "register_feature": "hybench.features.registry",
    "register_dataset": "hybench.data.catalog",
}
__all__ = [
    "__version__",
    "get_model",
    "list_models",
    "register_dataset",
    "register_feature",
    "register_model",
]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'hybench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
