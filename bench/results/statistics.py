"""Vectorised test-set statistics: metrics, bootstrap CIs, paired bootstrap and McNemar's test.

Every metric is computed from ``(labels, scores)`` under per-row weights: a weight matrix
``(B, n)`` of bootstrap counts gives ``B`` resampled values at once (integer counts are exactly
equivalent to resampling rows), and a single row of ones gives the plain point estimate. The
definitions follow ``hybench.results.metrics`` (scikit-learn): macro-F1 over all classes with 0
for undefined F1; balanced accuracy over classes present; ROC-AUC / PR-AUC on class 1 for binary
tasks, else the macro one-vs-rest mean over classes with both positives and negatives.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from hybench.errors import HybenchError

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc")
CLASS_METRICS = ("recall", "f1")  # per class, spelled "recall:<k>" / "f1:<k>"
RANKING = ("roc_auc", "pr_auc")
_CHUNK = 2_000_000  # weight-matrix elements per block, bounds memory for large test sets
EXACT_MCNEMAR_BELOW = 25  # discordant pairs; below this the exact binomial test is used


def check_metric(metric: str) -> None:
    """Raise a one-line error for an unknown metric name."""
    if metric in METRICS:
        return
    kind, _, cls = metric.partition(":")
    if kind in CLASS_METRICS and cls.isdigit():
        return
    raise HybenchError(
        f"unknown metric {metric!r}",
        f"use one of {', '.join(METRICS)}, recall:<class index> or f1:<class index>",
    )


def predictions(scores: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Argmax decisions, or for binary tasks ``P(class 1) >= threshold``."""
    if threshold is None:
        return scores.argmax(axis=1)
    return (scores[:, 1] >= threshold).astype(np.int64)


def metric_distribution(
    labels: np.ndarray,
    scores: np.ndarray,
    metrics: Sequence[str],
    weights: np.ndarray,
    *,
    threshold: float | None = None,
) -> dict[str, np.ndarray]:
    """Each metric under every row of ``weights`` ``(B, n)``: ``{metric: (B,) array}``.

    Undefined values (e.g. a resample without positives for an AUC) are NaN.
    """
    labels, scores = np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights))
    if not np.issubdtype(weights.dtype, np.floating):
        weights = weights.astype(np.float64)
    for metric in metrics:
        check_metric(metric)
    step = max(1, _CHUNK // max(1, len(labels)))
    with threadpool_limits(limits=1, user_api="blas"):  # threads only add overhead at this size
        parts = [
            _distribution_block(labels, scores, metrics, weights[i : i + step], threshold)
            for i in range(0, len(weights), step)
        ]
    return {m: np.concatenate([p[m] for p in parts]) for m in metrics}


def _distribution_block(labels, scores, metrics, weights, threshold) -> dict[str, np.ndarray]:
    k = scores.shape[1]
    out: dict[str, np.ndarray] = {}
    decision = [m for m in metrics if m not in RANKING]
    if decision:
        pred = predictions(scores, threshold)
        pair = np.zeros((len(labels), k * k), dtype=weights.dtype)
        pair[np.arange(len(labels)), labels * k + pred] = 1.0
        counts = (weights @ pair).astype(np.float64).reshape(len(weights), k, k)  # (B, true, pred)
        for metric in decision:
            out[metric] = _from_confusion(metric, counts)
    ranking = [m for m in RANKING if m in metrics]
    if ranking:
        out.update(_ranking(labels, scores, weights))
    return out


def _from_confusion(metric: str, counts: np.ndarray) -> np.ndarray:
    tp = np.diagonal(counts, axis1=1, axis2=2)
    support, predicted = counts.sum(axis=2), counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        f1_denominator = support + predicted
        f1 = np.where(f1_denominator > 0, 2 * tp / f1_denominator, 0.0)
        if metric == "accuracy":
            return tp.sum(axis=1) / counts.sum(axis=(1, 2))
        if metric == "balanced_accuracy":
            return np.nanmean(np.where(support > 0, recall, np.nan), axis=1)
        if metric == "macro_f1":
            return f1.mean(axis=1)
    kind, _, cls = metric.partition(":")
    c = int(cls)
    if c >= counts.shape[1]:
        raise HybenchError(f"metric {metric!r}: no class {c}", "use a class index of this task")
    if kind == "recall":
        return recall[:, c]
    return np.where(f1_denominator[:, c] > 0, f1[:, c], np.nan)


def _ranking(labels, scores, weights) -> dict[str, np.ndarray]:
    """ROC-AUC and PR-AUC: class 1 when binary, else the mean over classes where defined."""
    if scores.shape[1] == 2:
        return dict(zip(RANKING, _ranking_curves(scores[:, 1], labels == 1, weights), strict=True))
    per_class = np.stack([_ranking_curves(scores[:, c], labels == c, weights)
                          for c in range(scores.shape[1])], axis=1)  # (2, K, B)
    defined = ~np.isnan(per_class)
    n_defined = defined.sum(axis=1)
    mean = np.where(defined, per_class, 0.0).sum(axis=1) / np.maximum(n_defined, 1)
    mean = np.where(n_defined >= 2, mean, np.nan)  # as the record metrics: >= 2 classes
    return dict(zip(RANKING, mean, strict=True))


def _ranking_curves(score, positive, weights) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC (Mann-Whitney, ties count one half) and average precision (scikit-learn's
    step-wise sum over distinct thresholds) of one score column under each weight row."""
    order = np.argsort(score, kind="stable")
    ascending = score[order]
    all_w = weights[:, order]
    pos_w = all_w * positive[order]
    pos_cum, all_cum = np.cumsum(pos_w, axis=1), np.cumsum(all_w, axis=1)  # at or below
    ends = np.flatnonzero(np.r_[ascending[1:] != ascending[:-1], True])
    if len(ends) < len(score):  # tied scores share one threshold
        pos_cum, all_cum = pos_cum[:, ends], all_cum[:, ends]
        pos_w, all_w = (np.diff(c, axis=1, prepend=0) for c in (pos_cum, all_cum))
    n_pos, total = pos_cum[:, -1:], all_cum[:, -1:]
    n_neg = total - n_pos
    neg_w = all_w - pos_w
    above = total - all_cum + all_w  # weight at or above each threshold
    precision = np.divide(n_pos - pos_cum + pos_w, above, out=np.zeros_like(above),
                          where=above > 0)
    with np.errstate(invalid="ignore", divide="ignore"):  # undefined -> NaN below
        auc = np.einsum("ij,ij->i", pos_w, (all_cum - pos_cum) - 0.5 * neg_w) / (
            n_pos * n_neg)[:, 0]
        ap = np.einsum("ij,ij->i", pos_w, precision) / n_pos[:, 0]
    defined = (n_pos[:, 0] > 0) & (n_neg[:, 0] > 0)
    return (np.where(defined, auc, np.nan).astype(np.float64),
            np.where(defined, ap, np.nan).astype(np.float64))


@lru_cache(maxsize=16)
def bootstrap_weights(
    n: int, n_resamples: int = 1000, seed: int | tuple[int, ...] = 0
) -> np.ndarray:
    """Read-only ``(n_resamples, n)`` counts of each row in uniform resamples with replacement.

    ``seed`` may be a tuple (e.g. ``(0, split_seed)``) to draw independent sets per test split.
    """
    if n_resamples < 1 or n < 1:
        raise HybenchError(f"cannot bootstrap {n} rows {n_resamples} times", "use positive sizes")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n))
    flat = (draws + np.arange(n_resamples)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n)
    counts = counts.astype(np.float32)  # exact for counts; halves the memory traffic
    counts.flags.writeable = False
    return counts


def finite_mean(values: Iterable[float | None]) -> float:
    """Mean of the finite values; NaN when there is none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def finite_std(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof 1) of the finite values; NaN with fewer than two."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval over the defined (non-NaN) values; NaNs when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_summary(delta: float, differences: np.ndarray, confidence: float = 0.95) -> dict:
    """Delta, percentile CI and a two-sided p-value of "no difference" (:func:`bootstrap_p_value`).
    """
    low, high = percentile_interval(differences, confidence)
    return {"delta": delta, "low": low, "high": high,
            "p_value": bootstrap_p_value(delta, differences)}


def bootstrap_p_value(delta: float, differences: np.ndarray) -> float:
    """Two-sided p of "no difference" from ``delta`` and its bootstrap standard error (normal
    approximation). Unlike counting resamples on either side of zero, it has no floor at
    ``2 / (B + 1)``, so a multiple-comparison adjustment over many entries can still reject."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size < 2 or not math.isfinite(delta):
        return math.nan
    se = float(np.std(d, ddof=1))
    if se == 0:
        return 1.0 if delta == 0 else 0.0
    return math.erfc(abs(delta) / se / math.sqrt(2))


def mcnemar(labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """McNemar's test on paired decisions of one set of rows (see :func:`mcnemar_counts`)."""
    b, c = discordant_counts(labels, pred_a, pred_b)
    return mcnemar_counts(b, c)


def mcnemar_over_seeds(
    labels: Sequence[np.ndarray], pred_a: Sequence[np.ndarray], pred_b: Sequence[np.ndarray]
) -> dict:
    """McNemar's test on the discordant counts averaged over seeds.

    Each seed contributes its own ``(b, c)`` on its test rows; the test uses their means, so the
    same rows scored by k seeds count once (k identical seeds give the one-seed answer).
    """
    counts = [discordant_counts(y, a, b) for y, a, b in zip(labels, pred_a, pred_b, strict=True)]
    if not counts:
        raise HybenchError("mcnemar: no seeds to compare", "pass at least one seed")
    b, c = np.mean(counts, axis=0)
    return mcnemar_counts(float(b), float(c))


def discordant_counts(
    labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray
) -> tuple[int, int]:
    """``(b, c)``: rows only A gets right, rows only B gets right."""
    labels, pred_a, pred_b = (np.asarray(x) for x in (labels, pred_a, pred_b))
    if not len(labels) == len(pred_a) == len(pred_b):
        raise HybenchError(
            f"mcnemar: {len(labels)} labels but {len(pred_a)} and {len(pred_b)} decisions",
            "pass decisions for the same test rows",
        )
    right_a, right_b = pred_a == labels, pred_b == labels
    return int(np.count_nonzero(right_a & ~right_b)), int(np.count_nonzero(~right_a & right_b))


def mcnemar_counts(b: float, c: float) -> dict:
    """McNemar's test from discordant counts: exact two-sided binomial test when ``b + c < 25``
    (on the counts rounded to whole rows; statistic = min(b, c)), else chi-square with continuity
    correction."""
    n = b + c
    if n == 0:
        return {"b": b, "c": c, "statistic": 0.0, "p_value": 1.0}
    if n < EXACT_MCNEMAR_BELOW:
        whole_b, whole_c = round(b), round(c)
        whole = whole_b + whole_c
        tail = sum(math.comb(whole, i) for i in range(min(whole_b, whole_c) + 1)) / 2**whole
        return {"b": b, "c": c, "statistic": float(min(b, c)), "p_value": min(1.0, 2 * tail)}
    statistic = (abs(b - c) - 1) ** 2 / n
    return {"b": b, "c": c, "statistic": statistic, "p_value": math.erfc(math.sqrt(statistic / 2))}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (family = the finite values given; NaN stays NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted


def combine_seeds(
    resampled: Sequence[np.ndarray], splits: Sequence[str], seed: int = 0
) -> np.ndarray:
    """Bootstrap distribution of the mean over seeds from each seed's resampled values ``(B,)``.

    Seeds on the same split must have been resampled with the same row weights (see
    :func:`split_bootstrap_seed`): their values are averaged inside each resample, so k copies of
    one seed give exactly the one-seed distribution. Seeds on different splits get a two-level
    bootstrap: each resample draws the splits with replacement, and each draw an independent row
    resample of its split (a random column of that split's values).
    """
    groups: dict[str, list[np.ndarray]] = {}
    for values, split in zip(resampled, splits, strict=True):
        groups.setdefault(split, []).append(np.asarray(values, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples stay NaN
        per_split = np.stack([np.nanmean(np.stack(v), axis=0) for v in groups.values()])
        if len(per_split) == 1:
            return per_split[0]
        n_splits, n_resamples = per_split.shape
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n_splits, size=(n_resamples, n_splits))
        columns = rng.integers(0, n_resamples, size=(n_resamples, n_splits))
        return np.nanmean(per_split[picks, columns], axis=1)


def split_bootstrap_seed(split_fingerprint: str, base: int = 0) -> tuple[int, int]:
    """Bootstrap seed of a test split: every record on the same split shares its row weights."""
    digest = hashlib.sha256(split_fingerprint.encode()).digest()
    return base, int.from_bytes(digest[:4], "big")
