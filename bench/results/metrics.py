"""Record metrics from labels and per-sample class probabilities."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm

from hybench.results.statistics import predictions

SCORE_DECIMALS = 6  # records store probabilities at this precision; metrics use the stored values


def stored_scores(probabilities: np.ndarray) -> np.ndarray:
    """Class probabilities as a record stores them (float64, rounded to ``SCORE_DECIMALS``).

    Every record metric is computed from these, so metrics recomputed from a record match it.
    """
    return np.round(np.asarray(probabilities, dtype=np.float64), SCORE_DECIMALS)


def _rank_metrics(labels: np.ndarray, scores: np.ndarray) -> tuple[float | None, float | None]:
    """ROC-AUC and PR-AUC: binary on class 1, else macro one-vs-rest over classes present."""
    n_classes = scores.shape[1]
    if n_classes == 2:
        if len(np.unique(labels)) < 2:
            return None, None
        pos = scores[:, 1]
        return (
            float(skm.roc_auc_score(labels, pos)),
            float(skm.average_precision_score(labels, pos)),
        )
    present = [c for c in range(n_classes) if 0 < (labels == c).sum() < len(labels)]
    if len(present) < 2:
        return None, None
    roc = [skm.roc_auc_score(labels == c, scores[:, c]) for c in present]
    pr = [skm.average_precision_score(labels == c, scores[:, c]) for c in present]
    return float(np.mean(roc)), float(np.mean(pr))


def decision_metrics(
    labels: np.ndarray, predictions: np.ndarray, class_names: tuple[str, ...] | list[str]
) -> dict:
    """Threshold-dependent metrics, per-class table and confusion matrix for hard decisions."""
    k = len(class_names)
    classes = list(range(k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision for never-predicted classes -> 0
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            labels, predictions, labels=classes, zero_division=0
        )
        cm = skm.confusion_matrix(labels, predictions, labels=classes)
        headline = {
            "accuracy": float(skm.accuracy_score(labels, predictions)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(labels, predictions)),
            "macro_f1": float(
                skm.f1_score(labels, predictions, average="macro", labels=classes, zero_division=0)
            ),
            "weighted_f1": float(
                skm.f1_score(
                    labels, predictions, average="weighted", labels=classes, zero_division=0
                )
            ),
            "mcc": float(skm.matthews_corrcoef(labels, predictions)),
        }
    total = cm.sum()
    per_class = []
    for c in classes:
        negatives = total - cm[c, :].sum()
        true_negatives = negatives - (cm[:, c].sum() - cm[c, c])
        per_class.append(
            {
                "class": class_names[c],
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
                "specificity": float(true_negatives / negatives) if negatives else None,
            }
        )
    return {"metrics": headline, "per_class": per_class, "confusion_matrix": cm.tolist()}


def score_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    class_names: tuple[str, ...] | list[str],
    threshold: float | None = None,
) -> dict:
    """All record metrics for the argmax decision (or ``P(class 1) >= threshold``)."""
    result = decision_metrics(labels, predictions(scores, threshold), class_names)
    roc, pr = _rank_metrics(labels, scores)
    result["metrics"].update(roc_auc=roc, pr_auc=pr)
    return result


def choose_threshold(val_labels: np.ndarray, val_scores: np.ndarray) -> float:
    """Threshold on P(class 1) maximising validation balanced accuracy (midpoints; ties -> 0.5)."""
    candidates = np.unique(val_scores[:, 1])
    mids = (
        np.concatenate([[0.5], (candidates[:-1] + candidates[1:]) / 2])
        if len(candidates) > 1
        else np.array([0.5])
    )
    best_t, best = 0.5, -1.0
    for t in mids:
        value = skm.balanced_accuracy_score(val_labels, predictions(val_scores, t))
        if value > best + 1e-12:
            best_t, best = float(t), value
    return best_t


def threshold_metrics(
    val_labels: np.ndarray,
    val_scores: np.ndarray,
    test_labels: np.ndarray,
    test_scores: np.ndarray,
    class_names: tuple[str, ...] | list[str],
) -> dict:
    """Binary only: test metrics at the validation-chosen threshold, clearly labelled."""
    t = choose_threshold(val_labels, val_scores)
    result = score_metrics(test_labels, test_scores, class_names, threshold=t)
    return {"value": t, "chosen_on": "val", "criterion": "balanced_accuracy", **result}
