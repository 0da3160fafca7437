"""Vectorised metrics, bootstrap CIs, paired bootstrap and McNemar vs reference implementations."""

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from hybench.errors import HybenchError
from hybench.results import statistics as stats
from hybench.results.metrics import score_metrics


def metric_value(metric, labels, scores, *, threshold=None) -> float:
    """One metric on all rows: a single weight row of ones."""
    ones = np.ones((1, len(labels)))
    return float(stats.metric_distribution(labels, scores, [metric], ones,
                                           threshold=threshold)[metric][0])


def bootstrap_ci(labels, scores, metric, n_resamples=1000, seed=0):
    weights = stats.bootstrap_weights(len(labels), n_resamples, seed)
    return stats.percentile_interval(
        stats.metric_distribution(labels, scores, [metric], weights)[metric])


def paired_bootstrap(labels, scores_a, scores_b, metric, n_resamples=1000, seed=0):
    weights = stats.bootstrap_weights(len(labels), n_resamples, seed)
    a, b = (stats.metric_distribution(labels, s, [metric], weights)[metric]
            for s in (scores_a, scores_b))
    delta = metric_value(metric, labels, scores_a) - metric_value(metric, labels, scores_b)
    return stats.paired_summary(delta, a - b)


def noisy_task(n: int, k: int, seed: int, ties: bool = False):
    """Labels and probabilities that carry some signal (optionally rounded into ties)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels]
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if ties:
        scores = np.round(scores, 1) + 1e-3
        scores /= scores.sum(axis=1, keepdims=True)
    return labels, scores


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("ties", [False, True])
def test_metrics_agree_with_scikit_learn(k, ties):
    for seed in range(5):
        labels, scores = noisy_task(60 + 37 * seed, k, seed, ties)
        pred = scores.argmax(axis=1)
        truth = np.eye(k)[labels]
        expected = {
            "accuracy": skm.accuracy_score(labels, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(labels, pred),
            "macro_f1": skm.f1_score(labels, pred, average="macro", labels=range(k),
                                     zero_division=0),
            "roc_auc": (skm.roc_auc_score(labels, scores[:, 1]) if k == 2
                        else skm.roc_auc_score(labels, scores, multi_class="ovr")),
            "pr_auc": (skm.average_precision_score(labels, scores[:, 1]) if k == 2
                       else skm.average_precision_score(truth, scores, average="macro")),
        }
        for name in stats.METRICS:
            assert metric_value(name, labels, scores) == pytest.approx(expected[name],
                                                                       abs=1e-12), name
        recorded = score_metrics(labels, scores, [str(c) for c in range(k)])["metrics"]
        for name in stats.METRICS:  # and with the runner's record metrics
            assert metric_value(name, labels, scores) == pytest.approx(recorded[name])


def test_threshold_decisions_match_the_runner():
    labels, scores = noisy_task(200, 2, 3)
    for t in (0.2, 0.5, 0.8):
        pred = (scores[:, 1] >= t).astype(int)
        np.testing.assert_array_equal(stats.predictions(scores, t), pred)
        assert metric_value("balanced_accuracy", labels, scores, threshold=t) == (
            pytest.approx(skm.balanced_accuracy_score(labels, pred)))


def test_weighted_rows_equal_explicit_resamples():
    labels, scores = noisy_task(80, 3, 7, ties=True)
    weights = stats.bootstrap_weights(80, 20, 5)
    metrics = [*stats.METRICS, "recall:2", "f1:2"]
    batch = stats.metric_distribution(labels, scores, metrics, weights)
    for b in range(len(weights)):
        rows = np.repeat(np.arange(80), weights[b].astype(int))
        for metric in metrics:
            expected = metric_value(metric, labels[rows], scores[rows])
            assert batch[metric][b] == pytest.approx(expected, abs=1e-9, nan_ok=True), metric


def test_ci_contains_point_estimate_and_is_deterministic():
    labels, scores = noisy_task(150, 3, 11)
    for metric in (*stats.METRICS, "recall:0", "f1:1"):
        point = metric_value(metric, labels, scores)
        low, high = bootstrap_ci(labels, scores, metric, n_resamples=1000, seed=0)
        assert low <= point <= high and low < high, metric
        assert bootstrap_ci(labels, scores, metric, seed=0) == (low, high)
    assert bootstrap_ci(labels, scores, "accuracy", seed=1) != bootstrap_ci(
        labels, scores, "accuracy", seed=0)


def test_bootstrap_of_a_perfect_classifier_has_zero_width():
    labels, _ = noisy_task(90, 3, 2)
    perfect = np.eye(3)[labels] * 0.9 + 0.05
    for metric in stats.METRICS:
        low, high = bootstrap_ci(labels, perfect, metric)
        assert low == high == 1.0, metric


def test_paired_bootstrap_identical_and_clearly_different_models():
    labels, good = noisy_task(300, 2, 4)
    same = paired_bootstrap(labels, good, good, "macro_f1")
    assert same == {"delta": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}
    noise = np.random.default_rng(0).dirichlet([1, 1], size=300)
    better = paired_bootstrap(labels, good, noise, "roc_auc")
    assert better["delta"] > 0 and better["low"] > 0
    # no floor at 2 / (B + 1) = 0.002: Holm over dozens of comparisons can still reject
    assert better["p_value"] < 1e-6
    assert better["low"] <= better["delta"] <= better["high"]


def test_mcnemar_identical_decisions_give_p_one():
    labels, scores = noisy_task(100, 3, 5)
    pred = scores.argmax(axis=1)
    assert stats.mcnemar(labels, pred, pred) == {"b": 0, "c": 0, "statistic": 0.0, "p_value": 1.0}


def discordant(only_a: int, only_b: int, n: int = 200):
    """Labels and decisions where A alone is right on ``only_a`` rows, B alone on ``only_b``."""
    labels = np.zeros(n, dtype=int)
    a, b = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    b[:only_a] = 1
    a[only_a : only_a + only_b] = 1
    return labels, a, b


def test_mcnemar_matches_exact_binomial_and_chi_square():
    small = stats.mcnemar(*discordant(9, 3))  # 12 discordant rows: exact binomial test
    assert (small["b"], small["c"]) == (9, 3)
    assert small["p_value"] == pytest.approx(scipy_stats.binomtest(3, 12, 0.5).pvalue)
    large = stats.mcnemar(*discordant(50, 40))  # chi-square with continuity correction
    assert (large["b"], large["c"]) == (50, 40)
    expected = scipy_stats.chi2.sf((abs(50 - 40) - 1) ** 2 / 90, df=1)
    assert large["p_value"] == pytest.approx(expected)


def test_bad_input_is_a_one_line_error():
    labels, scores = noisy_task(20, 2, 0)
    with pytest.raises(HybenchError, match="unknown metric 'auc'.*macro_f1"):
        bootstrap_ci(labels, scores, "auc")
    with pytest.raises(HybenchError, match="same test rows"):
        stats.mcnemar(labels, labels[:-1], labels)
