"""Probability calibration that keeps an imbalance strategy instead of restoring the class prior."""

from __future__ import annotations

import warnings

from sklearn.calibration import CalibratedClassifierCV
from sklearn.utils.class_weight import compute_sample_weight


class BalancedCalibratedClassifierCV(CalibratedClassifierCV):
    """``CalibratedClassifierCV`` whose calibrator can target balanced classes.

    A calibrator fitted on unweighted held-out rows learns the training prior back and undoes any
    class weighting or resampling of the estimator. With ``balanced=True``, ``fit`` weights rows
    inversely to their class frequency (``compute_sample_weight("balanced", y)``, unless given
    ``sample_weight``). scikit-learn passes the weights to the calibrator and, when the
    estimator's ``fit`` takes ``sample_weight``, to the estimator as well (an SVM: the
    ``class-weight`` strategy). An estimator that balances itself, such as an imbalanced-learn
    ``Pipeline([smote, svm])`` that resamples only each calibration fold's training part, takes
    no weights, so only its calibrator is weighted (the ``smote`` strategy).
    """

    _parameter_constraints: dict = {
        **CalibratedClassifierCV._parameter_constraints,
        "balanced": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        balanced: bool = False,
        method: str = "sigmoid",
        cv=None,
        n_jobs: int | None = None,
        ensemble: bool | str = "auto",
    ):
        super().__init__(estimator, method=method, cv=cv, n_jobs=n_jobs, ensemble=ensemble)
        self.balanced = balanced

    def fit(self, X, y, sample_weight=None, **fit_params) -> BalancedCalibratedClassifierCV:
        if self.balanced and sample_weight is None:
            sample_weight = compute_sample_weight("balanced", y)
        with warnings.catch_warnings():
            # scikit-learn warns that a Pipeline takes no sample_weight and only the calibrator
            # is weighted: for a resampling pipeline that is the intent (SMOTE balances the fit).
            warnings.filterwarnings(
                "ignore", message="Since Pipeline does not appear to accept sample_weight"
            )
            return super().fit(X, y, sample_weight=sample_weight, **fit_params)
