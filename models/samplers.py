"""Resamplers used inside classical pipelines (so they only ever see training rows)."""

from __future__ import annotations

import warnings

import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.utils import check_neighbors_object


class AdaptiveSMOTE(SMOTE):
    """SMOTE that lowers ``k_neighbors`` to fit the smallest class instead of failing.

    A class with ``c`` training rows has at most ``c - 1`` neighbours, so an integer
    ``k_neighbors`` is capped at ``c - 1`` for the fit (with a warning naming the class);
    a class with a single row cannot be interpolated at all and raises ``ValueError``.
    The effective value is stored in ``k_neighbors_``; the parameter itself is left untouched.
    """

    def fit_resample(self, X, y, **params):
        classes, counts = np.unique(np.asarray(y), return_counts=True)
        smallest = int(np.argmin(counts))
        label, count = classes[smallest], int(counts[smallest])
        if count < 2:
            raise ValueError(
                f"SMOTE needs >= 2 training samples per class but class {label} has {count}; "
                "use the class-weight imbalance strategy instead"
            )
        self.k_neighbors_ = self.k_neighbors
        if isinstance(self.k_neighbors, int) and count <= self.k_neighbors:
            self.k_neighbors_ = count - 1
            warnings.warn(
                f"SMOTE k_neighbors lowered from {self.k_neighbors} to {self.k_neighbors_}: "
                f"class {label} has only {count} training samples",
                UserWarning,
                stacklevel=2,
            )
        return super().fit_resample(X, y, **params)

    def _validate_estimator(self) -> None:
        self.nn_k_ = check_neighbors_object("k_neighbors", self.k_neighbors_, additional_neighbor=1)
