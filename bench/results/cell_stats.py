"""Per-cell statistics: one record's headline metrics on its validation rows, on all test rows and
under every bootstrap resample of the test rows, computed once per (cell, decision) and cached for
every table that needs them.

The resampling weights depend only on the test split (its fingerprint), so every record on the
same test rows (every seed of an official split, every entry of a run) is resampled identically:
seed means and paired differences are taken inside each resample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hybench.results import statistics
from hybench.results.records import decision_part

N_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
CELL_METRICS = (
    "accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "rarest_recall", "rarest_f1",
)


@dataclass(frozen=True)
class CellStats:
    """One record's headline metrics: validation, test, and test under every bootstrap resample."""

    decision: str  # the decision applied: "val-threshold" only where a threshold is stored
    threshold: float | None
    rarest: int  # class index with the smallest test support
    split: str  # the test split's fingerprint (records on one split share resampling weights)
    val: dict[str, float]
    point: dict[str, float]
    resampled: dict[str, np.ndarray]

    def interval(self, metric: str) -> tuple[float, float]:
        """The metric's percentile bootstrap interval."""
        return statistics.percentile_interval(self.resampled[metric], CONFIDENCE)

    def decisions(self, record: dict) -> np.ndarray:
        """The record's test decisions under this cell's decision rule."""
        scores = np.asarray(record["test_scores"], dtype=np.float64)
        return statistics.predictions(scores, self.threshold)


def rarest_class(labels: np.ndarray, n_classes: int) -> int:
    """Index of the class with the smallest positive test support (lowest index on ties)."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    counts[counts == 0] = np.inf
    return int(np.argmin(counts))


class CellStatsCache:
    """:class:`CellStats` of ok records, computed on first use per (cell, decision)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], CellStats] = {}

    def get(self, record: dict, decision: str = "argmax") -> CellStats:
        """"val-threshold" applies where the record stores a threshold (binary tasks), else argmax.
        """
        key = (record["cell_id"], decision)
        if key not in self._cache:
            part = decision_part(record, decision)
            if decision != "argmax" and part is record:  # no stored threshold: argmax
                self._cache[key] = self.get(record)
            else:
                self._cache[key] = self._compute(record, None if part is record else part)
        return self._cache[key]

    def _compute(self, record: dict, stored: dict | None) -> CellStats:
        labels = np.asarray(record["test_labels"], dtype=np.int64)
        scores = np.asarray(record["test_scores"], dtype=np.float64)
        threshold = float(stored["value"]) if stored else None
        rarest = rarest_class(labels, scores.shape[1])
        names = {m: m for m in statistics.METRICS if m not in statistics.RANKING or not stored}
        names.update(rarest_recall=f"recall:{rarest}", rarest_f1=f"f1:{rarest}")
        seed = statistics.split_bootstrap_seed(record["split_fingerprint"], BOOTSTRAP_SEED)
        weights = statistics.bootstrap_weights(len(labels), N_RESAMPLES, seed)
        metrics = list(names.values())
        resampled = statistics.metric_distribution(labels, scores, metrics, weights,
                                                   threshold=threshold)
        cell = CellStats(
            decision="val-threshold" if stored else "argmax",
            threshold=threshold,
            rarest=rarest,
            split=record["split_fingerprint"],
            val=_point(record["val_labels"], record["val_scores"], names, threshold),
            point=_point(labels, scores, names, threshold),
            resampled={h: resampled[m] for h, m in names.items()},
        )
        if stored:  # ranking metrics do not depend on the threshold
            base = self.get(record)
            for metric in statistics.RANKING:
                cell.val[metric], cell.point[metric] = base.val[metric], base.point[metric]
                cell.resampled[metric] = base.resampled[metric]
        return cell


def _point(labels, scores, names: dict[str, str], threshold: float | None) -> dict[str, float]:
    """Each headline metric on all the given rows."""
    labels = np.asarray(labels, dtype=np.int64)
    ones = np.ones((1, len(labels)))
    values = statistics.metric_distribution(labels, np.asarray(scores, dtype=np.float64),
                                            list(names.values()), ones, threshold=threshold)
    return {h: float(values[m][0]) for h, m in names.items()}
