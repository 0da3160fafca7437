"""One cell = (dataset, model entry, imbalance strategy, seed): fit, score, time, build the record.

``run_cell`` executes inside an isolated child process; it reads the dataset, split and cached
features from disk (memory-mapped) and returns the record dict.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import bench
from bench import metrics
from bench.records import SCHEMA_VERSION, cell_id
from bench.splits import SplitPlan
from bench.timing import measure_inference

INFERENCE_IMAGES = 256


@dataclass(frozen=True)
class CellTask:
    """Everything a child process needs to run one cell (picklable, paths instead of arrays)."""

    dataset: str
    dataset_fingerprint: str
    class_names: tuple[str, ...]
    model: str
    imbalance: str
    seed: int
    images_path: Path
    labels_path: Path
    split_path: Path
    split_fingerprint: str
    feature_name: str
    feature_params: dict
    features_path: Path | None  # None: compute in the child (non-cacheable features)
    feature_seconds: float
    model_options: dict = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    threads: int = 1  # BLAS/OpenMP threads for this cell (cores / parallel jobs)
    log_path: Path | None = None  # the child's stdout/stderr go here (TensorFlow is chatty)

    @property
    def cell_id(self) -> str:
        return cell_id(self.dataset, self.model, self.imbalance, self.seed)

    @property
    def log_name(self) -> str:
        return self.cell_id.replace("|", "__") + ".log"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def base_record(task: CellTask, status: str, reason: str | None = None) -> dict:
    """The record skeleton every status shares; metric fields null until filled."""
    from models import get_model

    spec = get_model(task.model)
    return {
        "schema": SCHEMA_VERSION,
        "cell_id": task.cell_id,
        "model": task.model,
        "family": spec.family,
        "features": task.feature_name,
        "feature_params": task.feature_params,
        "imbalance": task.imbalance,
        "seed": task.seed,
        "dataset": task.dataset,
        "dataset_fingerprint": task.dataset_fingerprint,
        "split_fingerprint": task.split_fingerprint,
        "status": status,
        "reason": reason,
        "class_names": list(task.class_names),
        "metrics": None,
        "threshold": None,
        "per_class": None,
        "confusion_matrix": None,
        "fit_seconds": None,
        "feature_seconds": task.feature_seconds,
        "predict_seconds": None,
        "inference": None,
        "n_parameters": None,
        "serialized_bytes": None,
        "history": None,
        "weights": task.feature_params.get("weights"),
        "test_labels": None,
        "test_scores": None,
        "started_at": now_iso(),
        "finished_at": None,
        "duration_seconds": None,
        "hybench_version": bench.__version__,
    }


def run_cell(task: CellTask) -> dict:
    """Fit the entry on train rows, score val (threshold) and test once, time inference."""
    from features import get_feature
    from models import create_model, get_model, load_builtin_models, load_plugins

    started = time.perf_counter()
    load_builtin_models()
    load_plugins(task.plugins)
    spec = get_model(task.model)
    record = base_record(task, "ok")

    images = np.load(task.images_path, mmap_mode="r")
    labels = np.load(task.labels_path)
    plan = SplitPlan.load(task.split_path)
    feature = get_feature(task.feature_name, **task.feature_params)
    X = (
        np.load(task.features_path, mmap_mode="r")
        if task.features_path
        else feature.transform(np.asarray(images))
    )

    def rows(split: str) -> tuple[np.ndarray, np.ndarray]:
        idx = plan.indices(split)
        return np.asarray(X[idx]), labels[idx]

    X_train, y_train = rows("train")
    X_val, y_val = rows("val")
    X_test, y_test = rows("test")
    estimator = create_model(
        task.model,
        imbalance=task.imbalance,
        seed=task.seed,
        n_classes=len(task.class_names),
        **task.model_options,
    )
    fit_kwargs = {"validation_data": (X_val, y_val)} if spec.needs_validation else {}
    start = time.perf_counter()
    estimator.fit(X_train, y_train, **fit_kwargs)
    record["fit_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    test_scores = np.asarray(estimator.predict_proba(X_test), dtype=np.float64)
    record["predict_seconds"] = time.perf_counter() - start
    record.update(metrics.score_metrics(y_test, test_scores, task.class_names))
    if len(task.class_names) == 2:
        val_scores = np.asarray(estimator.predict_proba(X_val), dtype=np.float64)
        record["threshold"] = metrics.threshold_metrics(
            y_val, val_scores, y_test, test_scores, task.class_names
        )

    raw_test = np.asarray(images[plan.test[:INFERENCE_IMAGES]])
    record["inference"] = measure_inference(
        lambda batch: estimator.predict_proba(feature.transform(batch)),
        raw_test,
        batch_size=INFERENCE_IMAGES,
    )
    record["n_parameters"] = count_parameters(estimator) + backbone_parameters(feature)
    record["serialized_bytes"] = serialized_size(estimator)
    record["history"] = getattr(estimator, "history_", None)
    record["test_labels"] = y_test
    record["test_scores"] = np.round(test_scores, 6)
    record["finished_at"] = now_iso()
    record["duration_seconds"] = time.perf_counter() - started
    return record


def serialized_size(estimator: Any) -> int:
    if hasattr(estimator, "serialized_size"):
        return int(estimator.serialized_size())
    return len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))


def backbone_parameters(feature: Any) -> int:
    counter = getattr(feature.fn, "n_params", None)
    return int(counter(**feature.params)) if callable(counter) else 0


def count_parameters(estimator: Any) -> int:
    """Learned values: Keras weights, tree nodes, or the fitted arrays of sklearn estimators."""
    if hasattr(estimator, "n_params_"):
        return int(estimator.n_params_)
    if hasattr(estimator, "get_booster"):
        return sum(
            line.count(":[") + line.count(":leaf=") for line in estimator.get_booster().get_dump()
        )
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
