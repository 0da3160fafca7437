"""Keras entries beyond the shared contract (tests/test_conformance.py): training history,
imbalance handling, sizes and option errors (one epoch on tiny images)."""

from __future__ import annotations

import numpy as np
import pytest

from hybench.errors import HybenchError
from hybench.models import create_model, list_models

CNN_ENTRIES = list_models(family="cnn")
TINY = {"epochs": 1, "batch_size": 8, "verbose": 0}
N_CLASSES = 3


def tiny_images(n: int = 24, side: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise images whose brightness depends on the class, labels cycling 0..2."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % N_CLASSES
    images = rng.integers(0, 120, (n, side, side, 1)) + 60 * labels[:, None, None, None]
    return images.astype(np.uint8), labels


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": tiny_images(), "val": tiny_images(12, seed=1), "test": tiny_images(9, seed=2)}


def test_cnn_entries_are_registered() -> None:
    assert {"seed000-cnn8", "seed002-cnn4", "seed004-cnn-bn", "resnet-small"} <= set(CNN_ENTRIES)


def test_cnn_records_its_training_history(data) -> None:
    estimator = create_model("seed000-cnn4", imbalance="none", seed=0, n_classes=N_CLASSES, **TINY)
    estimator.fit(*data["train"], validation_data=data["val"])
    assert len(estimator.history_["loss"]) == 1
    assert {"val_loss", "val_pr_auc"} <= set(estimator.history_)
    assert estimator.n_params_ > 0


@pytest.mark.filterwarnings("ignore:SMOTE k_neighbors lowered")
def test_dense_head_fits_embeddings_with_smote() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0] * 16 + [1] * 5 + [2] * 3)
    X = rng.normal(size=(24, 16)).astype(np.float32) + labels[:, None]
    with pytest.raises(HybenchError, match="takes no option.s. learning_rate"):
        create_model("mobilenet-0.25-dense", imbalance="smote", seed=0, n_classes=3,
                     learning_rate=0.1, **TINY)
    estimator = create_model("mobilenet-0.25-dense", imbalance="smote", seed=0, n_classes=3,
                             **TINY)
    estimator.fit(X, labels, validation_data=(X[:6], labels[:6]))
    proba = estimator.predict_proba(X)
    assert proba.shape == (24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert estimator.n_params_ == sum(
        a * b + b for a, b in zip((16, 64, 128, 256, 128), (64, 128, 256, 128, 3), strict=True))


def test_oversampling_balances_training_rows_only(data) -> None:
    images, labels = data["train"]
    keep = np.r_[np.flatnonzero(labels == 0), np.flatnonzero(labels != 0)[:5]]
    images, labels = images[keep], labels[keep]
    estimator = create_model("seed002-mlp1", imbalance="oversample", seed=0, n_classes=3, **TINY)
    estimator.fit(images, labels, validation_data=data["val"])
    rows = estimator.train_indices_
    assert rows.min() >= 0 and rows.max() < len(labels)
    assert set(rows.tolist()) == set(range(len(labels)))
    counts = np.bincount(labels[rows], minlength=3)
    assert counts.min() == counts.max() == np.bincount(labels).max()


def test_class_weight_is_balanced() -> None:
    from hybench.models.keras_estimator import balanced_class_weight

    labels = np.array([0] * 6 + [1] * 3 + [2])
    weights = balanced_class_weight(labels, 3)
    totals = [weights[c] * np.sum(labels == c) for c in range(3)]
    np.testing.assert_allclose(totals, len(labels) / 3)


def test_class_weight_training_runs_and_is_repeatable(data) -> None:
    runs = []
    for _ in range(2):
        estimator = create_model("seed002-mlp1", imbalance="class-weight", seed=3, n_classes=3,
                                 **TINY)
        estimator.fit(*data["train"], validation_data=data["val"])
        runs.append(estimator.predict_proba(data["test"][0]))
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


def test_serialized_size_counts_the_saved_model(data) -> None:
    estimator = create_model("seed000-cnn4", imbalance="none", seed=0, n_classes=3, **TINY)
    estimator.fit(*data["train"], validation_data=data["val"])
    assert estimator.serialized_size() > 4 * estimator.n_params_


@pytest.mark.parametrize("options", [{"epochs": 0}, {"batch_size": "8"}, {"monitor": "val_acc"}])
def test_bad_training_options_are_user_errors(options: dict) -> None:
    with pytest.raises(HybenchError, match=next(iter(options))):
        create_model("seed002-mlp1", imbalance="none", seed=0, n_classes=3, **options)
