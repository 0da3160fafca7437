"""Every registered entry honours the model contract on tiny generated data.

The classical section parametrises over ``list_models(family="classical")``; deep entries get
their own section below it, built the same way.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone, is_classifier

from features import get_feature
from models import (
    IMBALANCE_STRATEGIES,
    NotApplicable,
    create_model,
    get_model,
    list_models,
    load_builtin_models,
)
from models.samplers import AdaptiveSMOTE

load_builtin_models()

N_CLASSES = 3
CLASS_COUNTS = (50, 28, 12)  # 90 imbalanced training rows
SIDE = 16


def tiny_images(counts: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 16x16 grayscale images whose bright bar's position and angle depend on the class."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    images = rng.normal(60, 25, size=(len(labels), SIDE, SIDE))
    for i, label in enumerate(labels):
        row = 3 + 4 * label + rng.integers(-1, 2)
        if label == 1:
            images[i, :, row : row + 3] += 120  # vertical bar
        else:
            images[i, row : row + 3, :] += 120  # horizontal bar
    return np.clip(images, 0, 255).astype(np.uint8)[..., None], labels


def entry_data(name: str, counts: tuple[int, ...] = CLASS_COUNTS, seed: int = 0):
    images, labels = tiny_images(counts, seed)
    return get_feature(get_model(name).features).transform(images), labels


def supported_cells(family: str) -> list[tuple[str, str]]:
    return [(n, s) for n in list_models(family=family) for s in get_model(n).imbalance]


def unsupported_cells(family: str) -> list[tuple[str, str]]:
    return [
        (n, s)
        for n in list_models(family=family)
        for s in IMBALANCE_STRATEGIES
        if not get_model(n).supports(s)
    ]


# --- classical entries ------------------------------------------------------------------------

CLASSICAL = list_models(family="classical")


def test_classical_grid_is_registered():
    grid = [
        f"{f}-{c}"
        for f in ("pixels", "hog")
        for c in ("logreg", "linsvm", "rbfsvm", "rf", "xgb", "knn")
    ]
    assert set(grid) <= set(CLASSICAL)
    for name in grid:
        spec = get_model(name)
        assert spec.description and spec.features == name.split("-")[0]
        assert spec.supports("class-weight") == (not name.endswith("-knn"))


@pytest.mark.parametrize(("name", "imbalance"), supported_cells("classical"))
def test_classical_entry_contract(name: str, imbalance: str):
    X, y = entry_data(name)
    X_new, _ = entry_data(name, counts=(4, 4, 4), seed=1)

    def fitted_probabilities(seed: int) -> np.ndarray:
        model = create_model(name, imbalance=imbalance, seed=seed, n_classes=N_CLASSES)
        assert is_classifier(model)
        clone(model)
        return model.fit(X, y).predict_proba(X_new)

    proba = fitted_probabilities(seed=7)
    assert proba.shape == (len(X_new), N_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba >= 0).all()
    np.testing.assert_array_equal(fitted_probabilities(seed=7), proba)


@pytest.mark.parametrize(("name", "imbalance"), unsupported_cells("classical"))
def test_classical_unsupported_strategy_is_not_applicable(name: str, imbalance: str):
    with pytest.raises(NotApplicable, match=imbalance):
        create_model(name, imbalance=imbalance, seed=0, n_classes=N_CLASSES)


def test_unknown_option_is_a_one_line_user_error():
    from bench.errors import HybenchError

    with pytest.raises(HybenchError, match="no option.*C_typo"):
        create_model("pixels-logreg", imbalance="none", seed=0, n_classes=2, C_typo=1.0)
    model = create_model("hog-rf", imbalance="none", seed=0, n_classes=2, n_estimators=7)
    assert model[-1].n_estimators == 7


@pytest.mark.parametrize("name", [n for n in CLASSICAL if get_model(n).supports("smote")])
def test_smote_only_sees_training_rows(name: str, monkeypatch: pytest.MonkeyPatch):
    received: list[np.ndarray] = []
    original = AdaptiveSMOTE.fit_resample

    def spy(self, X, y, **params):
        received.append(np.array(X, copy=True))
        return original(self, X, y, **params)

    monkeypatch.setattr(AdaptiveSMOTE, "fit_resample", spy)
    X_train, y_train = entry_data(name)
    X_held, _ = entry_data(name, counts=(10, 10, 10), seed=2)
    model = create_model(name, imbalance="smote", seed=0, n_classes=N_CLASSES)
    model.fit(X_train, y_train).predict_proba(X_held)

    assert len(received) == 1
    smote_at = [step for step, _ in model.steps].index("smote")
    upstream = model[:smote_at].transform if smote_at else np.asarray
    np.testing.assert_allclose(received[0], upstream(X_train), rtol=1e-6)
    distances = np.linalg.norm(received[0][:, None, :] - upstream(X_held)[None, :, :], axis=-1)
    assert distances.min() > 1e-6


def test_smote_lowers_k_neighbors_for_a_small_class():
    X, y = entry_data("pixels-logreg", counts=(40, 3))
    model = create_model("pixels-logreg", imbalance="smote", seed=0, n_classes=2)
    with pytest.warns(UserWarning, match=r"lowered from 5 to 2: class 1 has only 3"):
        model.fit(X, y)
    smote = model.named_steps["smote"]
    assert smote.k_neighbors_ == 2 and smote.get_params()["k_neighbors"] == 5
    with pytest.warns(UserWarning, match="lowered"):
        _, y_res = clone(smote).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [40, 40]


def test_smote_refuses_a_single_row_class():
    X, y = entry_data("hog-rf", counts=(40, 1))
    model = create_model("hog-rf", imbalance="smote", seed=0, n_classes=2)
    with pytest.raises(ValueError, match=r"SMOTE needs >= 2 .* class 1 has 1.*class-weight"):
        model.fit(X, y)
