"""Keras training wrapper for every deep entry: tf.data input, imbalance handling, early stopping.

Importing this module imports TensorFlow, so entry modules import it inside their factories only.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from hybench.errors import HybenchError

MONITOR_MODES = {"val_loss": "min", "val_pr_auc": "max"}
SCHEDULES = (None, "cosine")
PREDICT_BATCH = 256

BuildFn = Callable[[tuple[int, ...], int], keras.Model]
OptimizerFn = Callable[[], keras.optimizers.Optimizer]


@keras.saving.register_keras_serializable(package="hybench")
class PRAUC(keras.metrics.AUC):
    """Precision-recall AUC from sparse labels and softmax rows.

    Two classes: the positive (class 1) column. More: micro-average over one-hot columns.
    """

    def __init__(self, n_classes: int, name: str = "pr_auc", **kwargs: Any):
        super().__init__(curve="PR", name=name, **kwargs)
        self.n_classes = n_classes

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        if self.n_classes == 2:
            return super().update_state(labels, y_pred[:, 1], sample_weight)
        one_hot = keras.ops.one_hot(labels, self.n_classes)
        return super().update_state(one_hot, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"n_classes": self.n_classes, "name": self.name}


@dataclass(frozen=True)
class Augment:
    """Random training-time geometry, as ``ImageDataGenerator``-style ranges."""

    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    flip: bool = False

    def layers(self, seed: int) -> keras.Sequential:
        stack: list[keras.layers.Layer] = []
        if self.flip:
            stack.append(keras.layers.RandomFlip("horizontal", seed=seed))
        if self.rotation_degrees:
            factor = self.rotation_degrees / 360.0
            stack.append(keras.layers.RandomRotation(factor, fill_mode="nearest", seed=seed + 1))
        if self.zoom:
            stack.append(keras.layers.RandomZoom(self.zoom, fill_mode="nearest", seed=seed + 2))
        if self.shift:
            stack.append(keras.layers.RandomTranslation(
                self.shift, self.shift, fill_mode="nearest", seed=seed + 3))
        return keras.Sequential(stack, name="augment")


OVERSAMPLE_AUGMENT = Augment()


def balanced_class_weight(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """scikit-learn's ``balanced`` weights ``n / (k * count)`` for the classes present."""
    counts = np.bincount(y, minlength=n_classes)
    present = np.flatnonzero(counts)
    return {int(c): len(y) / (len(present) * counts[c]) for c in present}


def oversample_indices(y: np.ndarray, seed: int) -> np.ndarray:
    """Shuffled row indices of ``y`` with each class's rows randomly repeated up to the largest."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = counts.max()
    parts = []
    for label in np.flatnonzero(counts):
        rows = np.flatnonzero(y == label)
        parts += [rows, rng.choice(rows, target - len(rows), replace=True)]
    return rng.permutation(np.concatenate(parts))


def check_training_options(epochs: int, batch_size: int, monitor: str, patience: int) -> None:
    """One-line errors for unusable training options."""
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                             ("patience", patience, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise HybenchError(f"model option {name} must be an integer >= {low}, got {value!r}",
                               f"set e.g. {name} = {max(low, 5)} in the model options")
    if monitor not in MONITOR_MODES:
        raise HybenchError(f"model option monitor must be one of {', '.join(MONITOR_MODES)}, "
                           f"got {monitor!r}", "set monitor = \"val_loss\" or \"val_pr_auc\"")


class KerasClassifier:
    """A Keras model built at ``fit`` time, with a scikit-learn-like ``fit`` / ``predict_proba``.

    ``build(input_shape, n_classes)`` returns an uncompiled model ending in softmax; all input
    preprocessing (scaling, resizing) lives inside it. ``imbalance``: ``none``, ``class-weight``
    (balanced Keras class weights), ``oversample`` (random repeats of minority training rows, with
    augmentation) or ``smote`` (``sampler.fit_resample`` on the training rows, for vector inputs).
    """

    def __init__(
        self,
        build: BuildFn,
        *,
        n_classes: int,
        seed: int,
        imbalance: str = "none",
        optimizer: OptimizerFn = keras.optimizers.Adam,
        epochs: int = 20,
        batch_size: int = 64,
        monitor: str = "val_loss",
        patience: int = 5,
        verbose: int = 0,
        augment: Augment | None = None,
        schedule: str | None = None,
        sampler: Any = None,
    ):
        check_training_options(epochs, batch_size, monitor, patience)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if imbalance == "smote" and sampler is None:
            raise ValueError("imbalance='smote' needs a sampler with fit_resample")
        self.build = build
        self.n_classes = n_classes
        self.seed = seed
        self.imbalance = imbalance
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.augment = augment
        self.schedule = schedule
        self.sampler = sampler

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> KerasClassifier:
        X, y = np.asarray(X), np.asarray(y).astype(np.int64).ravel()
        if len(X) != len(y):
            raise ValueError(f"{len(X)} rows but {len(y)} labels")
        keras.utils.set_random_seed(self.seed)
        X_fit, y_fit = self._resample(X, y)
        augment = self.augment
        if self.imbalance == "oversample" and augment is None and X.ndim == 4:
            augment = OVERSAMPLE_AUGMENT
        model = self.build(X.shape[1:], self.n_classes)
        optimizer = self.optimizer()
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy", PRAUC(self.n_classes)],
        )
        validation = None
        if validation_data is not None:
            X_val, y_val = np.asarray(validation_data[0]), np.asarray(validation_data[1])
            validation = self._dataset(X_val, y_val.astype(np.int64).ravel())
        history = model.fit(
            self._dataset(X_fit, y_fit, shuffle=True, augment=augment),
            validation_data=validation,
            epochs=self.epochs,
            shuffle=False,  # the training dataset reshuffles itself every epoch
            class_weight=(balanced_class_weight(y, self.n_classes)
                          if self.imbalance == "class-weight" else None),
            callbacks=self._callbacks(with_validation=validation is not None,
                                      base_rate=float(optimizer.learning_rate)),
            verbose=self.verbose,
        )
        self.model_ = model
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        self.n_params_ = int(model.count_params())
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, float64 rows summing to 1."""
        X = np.asarray(X)
        parts = [
            self.model_.predict_on_batch(X[start:start + PREDICT_BATCH].astype(np.float32))
            for start in range(0, len(X), PREDICT_BATCH)
        ]
        proba = np.concatenate(parts).astype(np.float64).reshape(len(X), self.n_classes)
        return proba / proba.sum(axis=1, keepdims=True)

    def serialized_size(self) -> int:
        """Bytes of the trained model saved as ``.keras`` (architecture + weights, no optimizer)."""
        inference_model = keras.Model(self.model_.inputs, self.model_.outputs)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            inference_model.save(path)
            return path.stat().st_size

    def _resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training rows after the imbalance strategy (``train_indices_`` for oversampling)."""
        if self.imbalance == "oversample":
            self.train_indices_ = oversample_indices(y, self.seed)
            return X[self.train_indices_], y[self.train_indices_]
        if self.imbalance == "smote":
            X_res, y_res = self.sampler.fit_resample(X.reshape(len(X), -1), y)
            return np.asarray(X_res).reshape(-1, *X.shape[1:]), np.asarray(y_res)
        return X, y

    def _dataset(
        self, X: np.ndarray, y: np.ndarray, *, shuffle: bool = False,
        augment: Augment | None = None,
    ) -> tf.data.Dataset:
        data = tf.data.Dataset.from_tensor_slices((X, y))
        if shuffle:
            data = data.shuffle(len(X), seed=self.seed, reshuffle_each_iteration=True)
        data = data.batch(self.batch_size).map(lambda xb, yb: (tf.cast(xb, tf.float32), yb))
        if augment is not None:
            layers = augment.layers(self.seed)
            data = data.map(lambda xb, yb: (layers(xb, training=True), yb),
                            num_parallel_calls=tf.data.AUTOTUNE)
        return data.prefetch(tf.data.AUTOTUNE)

    def _callbacks(
        self, *, with_validation: bool, base_rate: float
    ) -> list[keras.callbacks.Callback]:
        callbacks: list[keras.callbacks.Callback] = []
        if with_validation:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=self.monitor, mode=MONITOR_MODES[self.monitor], patience=self.patience,
                restore_best_weights=True))
        if self.schedule == "cosine":  # per epoch, from the optimizer's rate towards 0
            callbacks.append(keras.callbacks.LearningRateScheduler(
                lambda epoch: base_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))))
        return callbacks
