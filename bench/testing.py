"""Conformance checks for model entries: the contract every registered entry honours.

The idea of scikit-learn's ``check_estimator``: :func:`check_entry` fits an entry on tiny
generated images (three imbalanced classes), with every imbalance strategy it supports, and
checks ``predict_proba`` shapes and row sums, determinism where the entry promises it, and that
unsupported strategies raise :class:`~hybench.models.NotApplicable`. No file or network is needed:
backbone embeddings use random weights at the smallest input size, Keras entries train one epoch.
:func:`check_imbalance_direction` checks that ``class-weight`` and ``smote`` move predictions
toward the minority class (an entry that cannot honour a strategy must not claim it).
A failed check raises ``AssertionError`` naming the entry, the strategy and what broke.

    from hybench.testing import check_entry
    check_entry("hog-extratrees")
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from hybench.features import get_feature
from hybench.models import IMBALANCE_STRATEGIES, NotApplicable, create_model, get_model, list_models

N_CLASSES = 3
TRAIN_COUNTS = (50, 28, 12)  # 90 imbalanced training rows
HELD_OUT_COUNTS = (4, 4, 4)
SIDE = 16
SMALL_FEATURE_PARAMS = {"weights": "none", "input_size": 32}  # backbone embeddings, no files
KERAS_OPTIONS = {"epochs": 1, "batch_size": 32, "patience": 1}
KERAS_FAMILIES = ("cnn", "backbone")  # families whose factories take Keras training options
ROW_SUM_TOLERANCE = 1e-5  # Keras predicts in float32
BAR = 120  # grey levels a class's bar adds to the noise: the classes are easy to tell apart
REBALANCING = ("class-weight", "smote")  # strategies that must move predictions to the minority
# check_imbalance_direction: binary at 5:1 with faint bars, so the classes overlap and the prior
# matters; Keras entries train one epoch of 24 steps (40 after SMOTE) without validation data,
# so no early stopping picks an epoch
DIRECTION_TRAIN_COUNTS = (80, 16)
DIRECTION_HELD_OUT_COUNTS = (30, 30)
DIRECTION_BAR = 10
DIRECTION_KERAS_OPTIONS = {"epochs": 1, "batch_size": 4}
MIN_MINORITY_SHIFT = 0.02  # rise of the mean P(minority) over ``none`` (smallest seen: 0.045)


def tiny_images(
    counts: tuple[int, ...], seed: int, bar: float = BAR
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 16x16 grayscale images whose bar (``bar`` grey levels brighter than the noise around
    it) has a position and angle that depend on the class."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    images = rng.normal(60, 25, size=(len(labels), SIDE, SIDE))
    for i, label in enumerate(labels):
        row = 3 + 4 * label + rng.integers(-1, 2)
        if label == 1:
            images[i, :, row : row + 3] += bar  # vertical bar
        else:
            images[i, row : row + 3, :] += bar  # horizontal bar
    return np.clip(images, 0, 255).astype(np.uint8)[..., None], labels


def entry_data(
    name: str, counts: tuple[int, ...] = TRAIN_COUNTS, seed: int = 0, bar: float = BAR
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: tiny images through the entry's feature (embeddings: random weights)."""
    spec = get_model(name)
    params = _small_params(spec.features, dict(spec.feature_params))
    return _featurised(spec.features, tuple(sorted(params.items())), counts, seed, bar)


def check_entry(name: str, **options: Any) -> None:
    """Every contract check for entry ``name`` (``options`` go to its factory, e.g. ``C=0.1``);
    :func:`check_imbalance_direction` is separate (it fits each strategy on its own fixture)."""
    for strategy in IMBALANCE_STRATEGIES:
        if get_model(name).supports(strategy):
            check_fit_predict(name, strategy, **options)
        else:
            check_not_applicable(name, strategy)


def check_fit_predict(name: str, imbalance: str, **options: Any) -> None:
    """Fit on the imbalanced training rows; probabilities on held-out rows are well-formed and the
    same when asked twice; with the same seed a deterministic entry predicts the same again."""
    spec = get_model(name)
    X, y = entry_data(name)
    X_val, y_val = entry_data(name, counts=HELD_OUT_COUNTS, seed=2)
    X_new, _ = entry_data(name, counts=HELD_OUT_COUNTS, seed=1)
    options = {**(KERAS_OPTIONS if spec.family in KERAS_FAMILIES else {}), **options}
    where = f"{name} / {imbalance}"

    def fitted() -> Any:
        model = create_model(name, imbalance=imbalance, seed=7, n_classes=N_CLASSES, **options)
        if spec.family == "classical":
            _check_sklearn_classifier(model, where)
        fit_kwargs = {"validation_data": (X_val, y_val)} if spec.needs_validation else {}
        model.fit(X, y, **fit_kwargs)
        return model

    def probabilities(model: Any) -> np.ndarray:
        return np.asarray(model.predict_proba(X_new), dtype=np.float64)

    model = fitted()
    proba = probabilities(model)
    assert proba.shape == (len(X_new), N_CLASSES), (
        f"{where}: predict_proba gave shape {proba.shape}, expected {(len(X_new), N_CLASSES)}")
    assert np.isfinite(proba).all() and (proba >= 0).all(), (
        f"{where}: probabilities must be finite and non-negative")
    worst = float(np.abs(proba.sum(axis=1) - 1).max())
    assert worst <= ROW_SUM_TOLERANCE, f"{where}: probability rows sum to 1 ± {worst:.2g}"
    assert np.array_equal(probabilities(model), proba), (
        f"{where}: the same fitted model predicted different probabilities twice")
    if spec.deterministic:
        assert np.array_equal(probabilities(fitted()), proba), (
            f"{where}: declared deterministic, but the same seed gave different probabilities")


def check_imbalance_direction(name: str, imbalance: str) -> None:
    """A rebalancing strategy moves predictions toward the minority class: fitted on faint-bar
    binary images at 5:1, the mean predicted probability of the minority class on balanced
    held-out rows is at least ``MIN_MINORITY_SHIFT`` above that of ``none`` with the same seed."""
    before, after = _minority_probability(name, "none"), _minority_probability(name, imbalance)
    assert after >= before + MIN_MINORITY_SHIFT, (
        f"{name} / {imbalance}: mean P(minority) {after:.3f}, {before:.3f} with 'none'; the "
        f"strategy must raise it by >= {MIN_MINORITY_SHIFT} or be declared not applicable")


def imbalance_direction_cases(pattern: str = "*") -> list[tuple[str, str]]:
    """``(entry, strategy)`` for every rebalancing strategy claimed by an entry matching
    ``pattern``: the pytest parametrisation of :func:`check_imbalance_direction`."""
    return [(name, s) for name in list_models(pattern) for s in REBALANCING
            if get_model(name).supports(s)]


def check_not_applicable(name: str, imbalance: str) -> None:
    """An unsupported strategy raises ``NotApplicable`` naming it (never silently replaced)."""
    try:
        create_model(name, imbalance=imbalance, seed=0, n_classes=N_CLASSES)
    except NotApplicable as exc:
        assert imbalance in str(exc), f"{name}: NotApplicable does not name {imbalance!r}"
        return
    raise AssertionError(f"{name} accepted unsupported imbalance strategy {imbalance!r}")


def conformance_cases(pattern: str = "*") -> list[tuple[str, str]]:
    """``(entry, strategy)`` for every strategy of every entry matching ``pattern``: a pytest
    parametrisation generated from the registry (supported ones fit, others must refuse)."""
    return [(name, s) for name in list_models(pattern) for s in IMBALANCE_STRATEGIES]


def check_case(name: str, imbalance: str) -> None:
    """The check of one :func:`conformance_cases` pair."""
    if get_model(name).supports(imbalance):
        check_fit_predict(name, imbalance)
    else:
        check_not_applicable(name, imbalance)


@functools.lru_cache(maxsize=4)  # ``none`` is the baseline of both rebalancing strategies
def _minority_probability(name: str, imbalance: str) -> float:
    spec = get_model(name)
    X, y = entry_data(name, counts=DIRECTION_TRAIN_COUNTS, bar=DIRECTION_BAR)
    X_new, _ = entry_data(name, counts=DIRECTION_HELD_OUT_COUNTS, seed=1, bar=DIRECTION_BAR)
    options = DIRECTION_KERAS_OPTIONS if spec.family in KERAS_FAMILIES else {}
    model = create_model(name, imbalance=imbalance, seed=7, n_classes=2, **options)
    proba = np.asarray(model.fit(X, y).predict_proba(X_new), dtype=np.float64)
    return float(proba[:, int(np.argmin(DIRECTION_TRAIN_COUNTS))].mean())


def _check_sklearn_classifier(model: Any, where: str) -> None:
    from sklearn.base import clone, is_classifier

    assert is_classifier(model), f"{where}: a classical entry must be a scikit-learn classifier"
    clone(model)  # raises when the estimator's parameters do not round-trip


def _small_params(feature: str, params: dict) -> dict:
    if not feature.startswith("embed-"):
        return params
    return {**params, **SMALL_FEATURE_PARAMS}


@functools.lru_cache(maxsize=32)
def _featurised(feature: str, params: tuple, counts: tuple[int, ...], seed: int, bar: float):
    images, labels = tiny_images(counts, seed, bar)
    if feature.startswith("embed-"):
        import keras

        keras.utils.set_random_seed(0)  # the same random backbone weights in every process
    X = get_feature(feature, **dict(params)).transform(images)
    X.flags.writeable = False
    return X, labels
