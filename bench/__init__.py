"""hybench: classical-plus-deep hybrid benchmarking for image classification.

The flow runs one way through the subpackages: ``data`` (datasets, split plans) -> ``features``
-> ``models`` (entry fit/predict) -> ``execution`` (plan, isolated cells) -> ``results`` (records,
run directories, statistics) -> ``report`` (leaderboards, HTML report, compare).
"""

__version__ = "0.1.0"

from hybench.data.catalog import register_dataset  # noqa: E402
from hybench.features.registry import register_feature  # noqa: E402
from hybench.models.registry import get_model, list_models, register_model  # noqa: E402

__all__ = [
    "__version__",
    "get_model",
    "list_models",
    "register_dataset",
    "register_feature",
    "register_model",
]
