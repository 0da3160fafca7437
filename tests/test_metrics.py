"""Record metrics agree with scikit-learn; thresholds are chosen on validation only."""

import numpy as np
from sklearn import metrics as skm

from hybench.results.metrics import choose_threshold, score_metrics, threshold_metrics


def noisy_scores(labels, n_classes, seed=0, signal=1.5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), n_classes))
    logits[np.arange(len(labels)), labels] += signal
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def test_multiclass_metrics_match_sklearn():
    labels = np.random.default_rng(1).integers(0, 3, 300)
    scores = noisy_scores(labels, 3)
    out = score_metrics(labels, scores, ("a", "b", "c"))
    pred = scores.argmax(1)
    m = out["metrics"]
    assert np.isclose(m["accuracy"], skm.accuracy_score(labels, pred))
    assert np.isclose(m["macro_f1"], skm.f1_score(labels, pred, average="macro"))
    assert np.isclose(m["mcc"], skm.matthews_corrcoef(labels, pred))
    assert np.isclose(m["roc_auc"], skm.roc_auc_score(labels, scores, multi_class="ovr"))
    cm = np.array(out["confusion_matrix"])
    assert cm.sum() == 300 and np.trace(cm) == (pred == labels).sum()
    # specificity of class 0 = TN / (TN + FP)
    tn = ((labels != 0) & (pred != 0)).sum()
    fp = ((labels != 0) & (pred == 0)).sum()
    assert np.isclose(out["per_class"][0]["specificity"], tn / (tn + fp))
    assert [p["support"] for p in out["per_class"]] == np.bincount(labels).tolist()


def test_binary_auc_uses_positive_class():
    labels = np.random.default_rng(2).integers(0, 2, 200)
    scores = noisy_scores(labels, 2)
    m = score_metrics(labels, scores, ("normal", "pneumonia"))["metrics"]
    assert np.isclose(m["roc_auc"], skm.roc_auc_score(labels, scores[:, 1]))
    assert np.isclose(m["pr_auc"], skm.average_precision_score(labels, scores[:, 1]))


def test_threshold_chosen_on_validation_only():
    rng = np.random.default_rng(3)
    val_labels, test_labels = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    val_scores = noisy_scores(val_labels, 2, seed=4)
    a = threshold_metrics(
        val_labels, val_scores, test_labels, noisy_scores(test_labels, 2, seed=5), ("n", "p")
    )
    b = threshold_metrics(
        val_labels, val_scores, test_labels, noisy_scores(test_labels, 2, seed=6), ("n", "p")
    )
    assert a["value"] == b["value"] == choose_threshold(val_labels, val_scores)
    assert a["chosen_on"] == "val" and a["criterion"] == "balanced_accuracy"


def test_threshold_maximises_validation_balanced_accuracy():
    labels = np.array([0] * 90 + [1] * 10)
    scores = np.column_stack([np.linspace(0.9, 0.5, 100), np.linspace(0.1, 0.5, 100)])
    t = choose_threshold(labels, scores)
    pred = (scores[:, 1] >= t).astype(int)
    assert skm.balanced_accuracy_score(labels, pred) == 1.0
