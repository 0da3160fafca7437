"""What a fitted estimator costs: learned parameter count and serialized size."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np


def serialized_size(estimator: Any) -> int:
    """Bytes of the fitted estimator as saved: ``serialized_size()`` (Keras), else pickled."""
    if hasattr(estimator, "serialized_size"):
        return int(estimator.serialized_size())
    return len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))


def count_parameters(estimator: Any) -> int:
    """Learned values: Keras weights, tree nodes, or the fitted arrays of sklearn estimators."""
    if hasattr(estimator, "n_params_"):
        return int(estimator.n_params_)
    if hasattr(estimator, "get_booster"):
        return xgboost_nodes(estimator)
    if hasattr(estimator, "steps"):
        return sum(count_parameters(step) for _, step in estimator.steps)
    if hasattr(estimator, "calibrated_classifiers_"):
        return sum(count_parameters(c.estimator) for c in estimator.calibrated_classifiers_)
    if hasattr(estimator, "estimators_") and hasattr(estimator.estimators_[0], "tree_"):
        return sum(int(tree.tree_.node_count) for tree in estimator.estimators_)
    return sum(
        int(value.size)
        for name, value in vars(estimator).items()
        if name.endswith("_")
        and not name.startswith("_")
        and isinstance(value, np.ndarray)
        and np.issubdtype(value.dtype, np.number)
    )


def xgboost_nodes(estimator: Any) -> int:
    """Split and leaf nodes over every tree of a fitted XGBoost model (from its text dump)."""
    return sum(
        line.count(":[") + line.count(":leaf=") for line in estimator.get_booster().get_dump()
    )
