"""One cell = (dataset, model entry, imbalance strategy, seed): fit, score, time, build the record.

``run_cell`` executes inside an isolated process (a local child or a Ray worker) on the arrays of
:class:`CellInputs`: memory-mapped from the driver's disk locally (``load_inputs``), or handed over
by Ray's object store on another machine. It returns the record dict.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import hybench
from hybench.data.splits import SplitPlan
from hybench.execution.timing import measure_inference
from hybench.results import metrics
from hybench.results.records import SCHEMA_VERSION, cell_id

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
    images_path: Path | None  # None on a Ray worker: the arrays come as CellInputs
    labels_path: Path | None
    split_path: Path | None
    split_fingerprint: str
    feature_name: str
    feature_params: dict
    features_path: Path | None  # None: compute in the child (non-cacheable features)
    feature_seconds: float
    model_options: dict = field(default_factory=dict)
    plugins: tuple[str, ...] = ()
    threads: int = 1  # BLAS/OpenMP threads for this cell (cores / parallel jobs)
    blas_threads: int | None = None  # None: ``threads``; 1 keeps results independent of --jobs
    log_path: Path | None = None  # the child's stdout/stderr go here (TensorFlow is chatty)

    @property
    def cell_id(self) -> str:
        return cell_id(self.dataset, self.model, self.imbalance, self.seed)


def thread_limits(task: CellTask):
    """The cell's OpenMP and BLAS thread limits, as a context manager."""
    from threadpoolctl import threadpool_limits

    blas = task.threads if task.blas_threads is None else task.blas_threads
    return threadpool_limits(limits={"openmp": task.threads, "blas": blas})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def finished_record(task: CellTask, status: str, reason: str) -> dict:
    """The record of a cell that ended without results (not applicable, skipped, error, timeout)."""
    record = base_record(task, status, reason)
    record["finished_at"] = now_iso()
    return record


def base_record(task: CellTask, status: str, reason: str | None = None) -> dict:
    """The record skeleton every status shares; metric fields null until filled."""
    from hybench.models import get_model

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
        "model_options": task.model_options,
        "class_counts": None,
        "val_metrics": None,
        "val_labels": None,
        "val_scores": None,
        "test_labels": None,
        "test_scores": None,
        "started_at": now_iso(),
        "finished_at": None,
        "duration_seconds": None,
        "hybench_version": hybench.__version__,
    }


@dataclass(frozen=True)
class CellInputs:
    """The arrays a cell reads: images, labels, its split and the cached features (or None)."""

    images: np.ndarray
    labels: np.ndarray
    plan: SplitPlan
    features: np.ndarray | None
    feature_params: dict | None = None  # for building the transform, when not the task's own


def load_inputs(task: CellTask) -> CellInputs:
    """A local cell's inputs, memory-mapped from the paths of its task."""
    features = np.load(task.features_path, mmap_mode="r") if task.features_path else None
    return CellInputs(np.load(task.images_path, mmap_mode="r"), np.load(task.labels_path),
                      SplitPlan.load(task.split_path), features)


def describe_failure(exc: BaseException) -> str:
    """One line for a failed cell's record: the exception and where it was raised."""
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_cell(task: CellTask, inputs: CellInputs | None = None) -> dict:
    """Fit the entry on train rows, score val and test once (threshold chosen on val), time
    inference. ``inputs`` default to the arrays at the task's paths."""
    from hybench.features import get_feature
    from hybench.models import create_model, get_model, load_plugins
    from hybench.models.introspection import count_parameters, serialized_size

    started = time.perf_counter()
    load_plugins(task.plugins)
    spec = get_model(task.model)
    record = base_record(task, "ok")
    inputs = inputs or load_inputs(task)
    images, plan = inputs.images, inputs.plan
    feature = get_feature(task.feature_name, **(inputs.feature_params or task.feature_params))
    train, val, test = _split_rows(inputs, feature)
    estimator = create_model(
        task.model,
        imbalance=task.imbalance,
        seed=task.seed,
        n_classes=len(task.class_names),
        **task.model_options,
    )
    fit_kwargs = {"validation_data": val} if spec.needs_validation else {}
    start = time.perf_counter()
    estimator.fit(*train, **fit_kwargs)
    record["fit_seconds"] = time.perf_counter() - start
    record["class_counts"] = {
        name: np.bincount(y, minlength=len(task.class_names)).tolist()
        for name, (_, y) in zip(("train", "val", "test"), (train, val, test), strict=True)
    }
    record.update(_score(task, estimator, val, test))
    record["inference"] = measure_inference(
        lambda batch: estimator.predict_proba(feature.transform(batch)),
        np.asarray(images[plan.test[:INFERENCE_IMAGES]]),
        batch_size=INFERENCE_IMAGES,
    )
    record["n_parameters"] = count_parameters(estimator) + feature.n_parameters()
    record["serialized_bytes"] = serialized_size(estimator)
    record["history"] = getattr(estimator, "history_", None)
    record["finished_at"] = now_iso()
    record["duration_seconds"] = time.perf_counter() - started
    return record


Rows = tuple[np.ndarray, np.ndarray]


def _split_rows(inputs: CellInputs, feature) -> list[Rows]:
    """``(X, y)`` of the train, val and test rows: cached features, else computed here."""
    X = inputs.features
    if X is None:
        X = feature.transform(np.asarray(inputs.images))
    splits = (inputs.plan.indices(s) for s in ("train", "val", "test"))
    return [(np.asarray(X[idx]), inputs.labels[idx]) for idx in splits]


def _score(task: CellTask, estimator, val: Rows, test: Rows) -> dict:
    """Validation and test metrics (argmax, and for binary tasks at the validation-chosen
    threshold), computed from exactly the scores the record stores."""
    start = time.perf_counter()
    test_scores = metrics.stored_scores(estimator.predict_proba(test[0]))
    scored = {"predict_seconds": time.perf_counter() - start}
    val_scores = metrics.stored_scores(estimator.predict_proba(val[0]))
    scored.update(metrics.score_metrics(test[1], test_scores, task.class_names))
    scored["val_metrics"] = metrics.score_metrics(val[1], val_scores, task.class_names)["metrics"]
    if len(task.class_names) == 2:
        scored["threshold"] = metrics.threshold_metrics(
            val[1], val_scores, test[1], test_scores, task.class_names
        )
    scored.update(val_labels=val[1], val_scores=val_scores,
                  test_labels=test[1], test_scores=test_scores)
    return scored
