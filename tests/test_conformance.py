"""Every registered entry honours the model contract (``hybench.testing``), plus the classical
entries' imbalance machinery: SMOTE only ever sees training rows, and the SVMs' calibrators keep
the strategy instead of restoring the training prior.

The parametrisations are generated from the registry: every entry of every family, every strategy
(supported ones fit on tiny data, the others must refuse with ``NotApplicable``), and every
rebalancing strategy an entry claims (it must move predictions toward the minority class).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from hybench.errors import HybenchError
from hybench.models import create_model, get_model, list_models
from hybench.models.introspection import count_parameters, serialized_size
from hybench.models.samplers import AdaptiveSMOTE
from hybench.testing import (
    N_CLASSES,
    check_case,
    check_entry,
    check_imbalance_direction,
    check_not_applicable,
    conformance_cases,
    entry_data,
    imbalance_direction_cases,
)

CLASSICAL = list_models(family="classical")
# The direction check fits 2-3 models per entry. Keras entries (the ones trained with validation
# data) take ~2-5 s per fit, mostly tf.function tracing, so they are marked slow. Batch-norm CNNs
# are skipped: after the check's 24 steps they predict from unsettled moving statistics, and up
# to 288 steps the direction flipped with the budget (288 steps passed, at 35-47 s per entry).
# Their class weights go through the same KerasClassifier code as the other CNN entries' do.
UNSETTLED_BATCH_NORM = ("resnet-small", "seed004-cnn-bn")


def _direction_cases() -> list:
    def marks(name: str) -> tuple:
        if name in UNSETTLED_BATCH_NORM:
            return (pytest.mark.skip(reason="batch-norm statistics unsettled at the budget"),)
        return (pytest.mark.slow,) if get_model(name).needs_validation else ()

    return [pytest.param(name, s, marks=marks(name)) for name, s in imbalance_direction_cases()]


@pytest.mark.filterwarnings("ignore:SMOTE k_neighbors lowered")
@pytest.mark.parametrize(("name", "imbalance"), conformance_cases())
def test_entry_contract(name: str, imbalance: str):
    check_case(name, imbalance)


@pytest.mark.filterwarnings("ignore:SMOTE k_neighbors lowered")
@pytest.mark.parametrize(("name", "imbalance"), _direction_cases())
def test_rebalancing_moves_predictions_to_the_minority(name: str, imbalance: str):
    check_imbalance_direction(name, imbalance)


def test_every_family_is_covered():
    for cases in (conformance_cases(), imbalance_direction_cases()):
        assert {get_model(name).family for name, _ in cases} == {"classical", "cnn", "backbone"}


def test_the_checks_catch_a_broken_entry():
    """An entry whose rows do not sum to 1, or that accepts a strategy, fails the checks."""
    from sklearn.dummy import DummyClassifier

    from hybench import register_model

    class Unnormalised(DummyClassifier):
        def predict_proba(self, X):
            return super().predict_proba(X) * 2

    @register_model("test-unnormalised", family="classical", features="pixels",
                    imbalance=("none",))
    def unnormalised(*, imbalance, seed, n_classes, **options):
        return Unnormalised()

    with pytest.raises(AssertionError, match="test-unnormalised / none: probability rows sum"):
        check_entry("test-unnormalised")

    with pytest.raises(AssertionError, match="accepted unsupported imbalance strategy 'none'"):
        check_not_applicable("test-unnormalised", "none")  # a strategy it does support


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


def test_unknown_option_is_a_one_line_user_error():
    from hybench.errors import HybenchError

    with pytest.raises(HybenchError, match="no option.*C_typo"):
        create_model("pixels-logreg", imbalance="none", seed=0, n_classes=2, C_typo=1.0)
    model = create_model("hog-rf", imbalance="none", seed=0, n_classes=2, n_estimators=7)
    assert model[-1].n_estimators == 7


@pytest.mark.parametrize("name", [n for n in CLASSICAL if get_model(n).supports("smote")])
def test_smote_only_sees_training_rows(name: str, monkeypatch: pytest.MonkeyPatch):
    """A SMOTE step sees all training rows once; an SVM's SMOTE (one per calibration fit) sees
    only training rows of its fold. Never a held-out row."""
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

    steps = [step for step, _ in model.steps]
    smote_at = steps.index("smote" if "smote" in steps else "classifier")
    upstream = model[:smote_at].transform if smote_at else np.asarray
    train, held = upstream(X_train), upstream(X_held)
    assert received and ("smote" not in steps or [len(X) for X in received] == [len(train)])
    for X in received:
        assert _distances(X, train).min(axis=1).max() < 1e-6
        assert _distances(X, held).min() > 1e-6


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


@pytest.mark.parametrize("name", ["pixels-linsvm", "hog-rbfsvm"])
def test_svm_calibration_keeps_the_strategy(name: str, monkeypatch: pytest.MonkeyPatch):
    """Regression: the Platt sigmoid was fitted unweighted, and after SMOTE on synthetic rows too,
    so it restored the training prior. Now the sigmoid sees each real row once, weighted to
    balanced classes; the SVM gets the weights with ``class-weight`` and balanced SMOTE rows with
    ``smote``; and both strategies move held-out predictions toward the minority class."""
    from sklearn.calibration import _SigmoidCalibration
    from sklearn.svm import SVC, LinearSVC

    calibrator: list[tuple[np.ndarray, np.ndarray | None]] = []
    svm: list[tuple[np.ndarray, np.ndarray | None]] = []
    for cls, calls in ((_SigmoidCalibration, calibrator), (LinearSVC, svm), (SVC, svm)):
        _record_fits(monkeypatch, cls, calls)
    counts = (200, 40)
    X, y = entry_data(name, counts=counts, bar=10)
    X_new, _ = entry_data(name, counts=counts, seed=1, bar=10)  # the training prior
    share, mean = {}, {}
    for imbalance in ("none", "class-weight", "smote"):
        calibrator.clear()
        svm.clear()
        model = create_model(name, imbalance=imbalance, seed=0, n_classes=2).fit(X, y)
        labels = np.concatenate([labels for labels, _ in calibrator])
        assert np.bincount(labels).tolist() == list(counts), f"{imbalance}: not the real rows"
        weighted = [weights is not None for _, weights in calibrator]
        assert weighted == [imbalance != "none"] * len(calibrator), f"{imbalance}: {weighted}"
        if imbalance != "none":
            weights = np.concatenate([weights for _, weights in calibrator])
            assert np.isclose(weights[labels == 0].sum(), weights[labels == 1].sum())
        assert {weights is not None for _, weights in svm} == {imbalance == "class-weight"}
        if imbalance == "smote":
            assert all(np.bincount(labels)[0] == np.bincount(labels)[1] for labels, _ in svm)
        minority = model.predict_proba(X_new)[:, 1]
        share[imbalance], mean[imbalance] = np.mean(minority > 0.5), minority.mean()
    for imbalance in ("class-weight", "smote"):
        assert share[imbalance] > share["none"] and mean[imbalance] > mean["none"] + 0.1, (
            imbalance, share, mean)


def _record_fits(monkeypatch: pytest.MonkeyPatch, cls: type, calls: list) -> None:
    """Append ``(y, sample_weight)`` of every ``cls.fit`` call to ``calls``."""
    original = cls.fit

    def fit(self, X, y, sample_weight=None):
        calls.append((np.asarray(y), None if sample_weight is None else np.asarray(sample_weight)))
        return original(self, X, y, sample_weight)

    monkeypatch.setattr(cls, "fit", fit)


@pytest.mark.parametrize("imbalance", ["none", "class-weight", "smote"])
def test_svm_entries_stay_plain_estimators(imbalance: str):
    """Options reach the SVM, which is never class-weighted on top of the sample weights; the
    model clones, fits deterministically and still has a parameter count and a size."""
    with pytest.raises(HybenchError, match="no option.*C_typo"):
        create_model("hog-linsvm", imbalance=imbalance, seed=0, n_classes=2, C_typo=1.0)
    model = create_model("hog-linsvm", imbalance=imbalance, seed=0, n_classes=2, C=0.1)
    params = clone(model).get_params()
    assert [v for k, v in params.items() if k.endswith("__C")] == [0.1]
    assert [v for k, v in params.items() if k.endswith("__class_weight")] == [None]
    X, y = entry_data("hog-linsvm")
    proba = model.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(clone(model).fit(X, y).predict_proba(X), proba)
    assert model.classes_.tolist() == [0, 1, 2] and model.predict(X).shape == y.shape
    assert count_parameters(model) > X.shape[1] and serialized_size(model) > 0


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
