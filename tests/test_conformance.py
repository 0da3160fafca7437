"""Every registered entry honours the model contract (``hybench.testing``), plus the classical
entries' imbalance machinery: SMOTE as a pipeline step that only ever sees training rows.

The parametrisation is generated from the registry: every entry of every family, every strategy
(supported ones fit on tiny data, the others must refuse with ``NotApplicable``).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from hybench.models import create_model, get_model, list_models
from hybench.models.samplers import AdaptiveSMOTE
from hybench.testing import (
    N_CLASSES,
    check_case,
    check_entry,
    check_not_applicable,
    conformance_cases,
    entry_data,
)

CLASSICAL = list_models(family="classical")


@pytest.mark.filterwarnings("ignore:SMOTE k_neighbors lowered")
@pytest.mark.parametrize(("name", "imbalance"), conformance_cases())
def test_entry_contract(name: str, imbalance: str):
    check_case(name, imbalance)


def test_every_family_is_covered():
    families = {get_model(name).family for name, _ in conformance_cases()}
    assert families == {"classical", "cnn", "backbone"}


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
