"""Classical entries: {raw pixels, HOG} x six scikit-learn / XGBoost classifiers.

Every entry returns an imbalanced-learn ``Pipeline`` of ``[scale] -> [smote] -> classifier``:
scale-sensitive classifiers get a ``StandardScaler``; the ``smote`` strategy inserts
``AdaptiveSMOTE`` so synthetic rows are only ever made from training rows; ``class-weight``
uses ``class_weight="balanced"`` (or balanced sample weights for XGBoost).

The SVMs are Platt-calibrated by ``BalancedCalibratedClassifierCV``, whose sigmoid would
otherwise learn the training prior back: with ``class-weight``, balanced sample weights fit
both the SVM and the sigmoid; with ``smote``, SMOTE moves inside the calibrator (the calibrated
estimator is ``AdaptiveSMOTE -> svm``, so each calibration fold resamples only its own training
part) and the sigmoid is fitted on the real held-out rows with balanced weights.

``**options`` override the classifier's hyperparameters, e.g. ``C=0.1`` or ``n_estimators=500``;
without them every classifier uses the fixed defaults below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.class_weight import compute_sample_weight
from xgboost import XGBClassifier

from hybench.errors import HybenchError
from hybench.models.calibration import BalancedCalibratedClassifierCV
from hybench.models.registry import register_model
from hybench.models.samplers import AdaptiveSMOTE

WEIGHTED = ("none", "class-weight", "smote")
UNWEIGHTED = ("none", "smote")


class BalancedXGBClassifier(XGBClassifier):
    """``XGBClassifier`` that weights samples inversely to class frequency unless given weights."""

    def fit(self, X, y, *, sample_weight=None, **kwargs):
        if sample_weight is None:
            sample_weight = compute_sample_weight("balanced", y)
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)


def _class_weight(imbalance: str) -> str | None:
    return "balanced" if imbalance == "class-weight" else None


def _with_options(estimator: BaseEstimator, options: dict[str, Any]) -> BaseEstimator:
    """Apply hyperparameter overrides, rejecting names the estimator does not have."""
    known = estimator.get_params(deep=False)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise HybenchError(
            f"{type(estimator).__name__} has no option(s) {', '.join(unknown)}",
            f"known options: {', '.join(sorted(known))}",
        )
    return estimator.set_params(**options)


def logistic_regression(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    estimator = LogisticRegression(
        C=0.01, max_iter=2000, class_weight=_class_weight(imbalance), random_state=seed
    )
    return _with_options(estimator, options)


def _calibrated(
    svm: BaseEstimator, imbalance: str, seed: int, **calibration: Any
) -> BalancedCalibratedClassifierCV:
    """Platt-calibrated ``svm`` honouring ``imbalance`` in the SVM and in the calibrator."""
    estimator = svm
    if imbalance == "smote":
        estimator = Pipeline([("smote", AdaptiveSMOTE(random_state=seed)), ("svm", svm)])
    return BalancedCalibratedClassifierCV(estimator, balanced=imbalance != "none", **calibration)


def linear_svm(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    svm = LinearSVC(C=0.001, random_state=seed)
    return _calibrated(_with_options(svm, options), imbalance, seed, cv=3)


def rbf_svm(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    svm = SVC(C=3.0, random_state=seed)
    return _calibrated(_with_options(svm, options), imbalance, seed, cv=5, ensemble=False)


def random_forest(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    estimator = RandomForestClassifier(
        n_estimators=200, class_weight=_class_weight(imbalance), n_jobs=1, random_state=seed
    )
    return _with_options(estimator, options)


def gradient_boosting(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    cls = BalancedXGBClassifier if imbalance == "class-weight" else XGBClassifier
    estimator = cls(
        n_estimators=200,
        max_depth=4,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.5,
        tree_method="hist",
        eval_metric="logloss" if n_classes == 2 else "mlogloss",
        n_jobs=1,
        random_state=seed,
    )
    return _with_options(estimator, options)


def nearest_neighbours(imbalance: str, seed: int, n_classes: int, options: dict) -> BaseEstimator:
    return _with_options(KNeighborsClassifier(n_neighbors=11, weights="distance"), options)


@dataclass(frozen=True)
class Classifier:
    """How to build one classifier, whether it needs standardised inputs, and whether it applies
    SMOTE itself (inside its calibration folds) rather than after the scaler."""

    build: Callable[[str, int, int, dict[str, Any]], BaseEstimator]
    scale: bool
    smote_inside: bool = False


LOGREG = Classifier(logistic_regression, scale=True)
LINSVM = Classifier(linear_svm, scale=True, smote_inside=True)
RBFSVM = Classifier(rbf_svm, scale=True, smote_inside=True)
RF = Classifier(random_forest, scale=False)
XGB = Classifier(gradient_boosting, scale=False)
KNN = Classifier(nearest_neighbours, scale=True)


def build_pipeline(
    classifier: Classifier, /, *, imbalance: str, seed: int, n_classes: int, **options: Any
) -> Pipeline:
    """``[StandardScaler] -> [AdaptiveSMOTE] -> classifier`` for one imbalance strategy (no
    ``AdaptiveSMOTE`` step for a classifier that applies SMOTE itself)."""
    steps: list[tuple[str, Any]] = []
    if classifier.scale:
        steps.append(("scale", StandardScaler()))
    if imbalance == "smote" and not classifier.smote_inside:
        steps.append(("smote", AdaptiveSMOTE(random_state=seed)))
    steps.append(("classifier", classifier.build(imbalance, seed, n_classes, options)))
    return Pipeline(steps)


# --- raw pixels -------------------------------------------------------------------------------


@register_model("pixels-logreg", family="classical", features="pixels", imbalance=WEIGHTED)
def pixels_logreg(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """L2 logistic regression on standardised raw pixels."""
    return build_pipeline(LOGREG, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("pixels-linsvm", family="classical", features="pixels", imbalance=WEIGHTED)
def pixels_linsvm(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Calibrated linear SVM on standardised raw pixels."""
    return build_pipeline(LINSVM, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("pixels-rbfsvm", family="classical", features="pixels", imbalance=WEIGHTED)
def pixels_rbfsvm(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """RBF-kernel SVM (Platt-calibrated) on standardised raw pixels."""
    return build_pipeline(RBFSVM, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("pixels-rf", family="classical", features="pixels", imbalance=WEIGHTED)
def pixels_rf(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Random forest (200 trees) on raw pixels."""
    return build_pipeline(RF, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("pixels-xgb", family="classical", features="pixels", imbalance=WEIGHTED)
def pixels_xgb(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """XGBoost (200 depth-4 trees, hist) on raw pixels."""
    return build_pipeline(XGB, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("pixels-knn", family="classical", features="pixels", imbalance=UNWEIGHTED)
def pixels_knn(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Distance-weighted 11-nearest neighbours on standardised raw pixels."""
    return build_pipeline(KNN, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


# --- HOG --------------------------------------------------------------------------------------


@register_model("hog-logreg", family="classical", features="hog", imbalance=WEIGHTED)
def hog_logreg(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """L2 logistic regression on standardised HOG descriptors."""
    return build_pipeline(LOGREG, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("hog-linsvm", family="classical", features="hog", imbalance=WEIGHTED)
def hog_linsvm(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Calibrated linear SVM on standardised HOG descriptors."""
    return build_pipeline(LINSVM, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("hog-rbfsvm", family="classical", features="hog", imbalance=WEIGHTED)
def hog_rbfsvm(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """RBF-kernel SVM (Platt-calibrated) on standardised HOG descriptors."""
    return build_pipeline(RBFSVM, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("hog-rf", family="classical", features="hog", imbalance=WEIGHTED)
def hog_rf(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Random forest (200 trees) on HOG descriptors."""
    return build_pipeline(RF, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("hog-xgb", family="classical", features="hog", imbalance=WEIGHTED)
def hog_xgb(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """XGBoost (200 depth-4 trees, hist) on HOG descriptors."""
    return build_pipeline(XGB, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("hog-knn", family="classical", features="hog", imbalance=UNWEIGHTED)
def hog_knn(*, imbalance: str, seed: int, n_classes: int, **options: Any) -> Pipeline:
    """Distance-weighted 11-nearest neighbours on standardised HOG descriptors."""
    return build_pipeline(KNN, imbalance=imbalance, seed=seed, n_classes=n_classes, **options)
