"""Report figures (matplotlib, Agg backend), returned as base64 PNG strings for inline HTML."""

from __future__ import annotations

import base64
import contextlib
import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

DPI = 90


def plain_text() -> contextlib.AbstractContextManager:
    """Figures made inside draw every label as given: a class or entry name such as ``$x$`` is
    not parsed as mathtext (which can fail and would change the name)."""
    return matplotlib.rc_context({"text.parse_math": False})


def png_bytes(fig: Figure) -> bytes:
    """Encode a figure as PNG and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_base64(fig: Figure) -> str:
    """Encode and close a figure."""
    return base64.b64encode(png_bytes(fig)).decode("ascii")


def _grid(n: int, max_cols: int, cell: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cell[0] * cols, cell[1] * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def confusion_grid(
    items: Sequence[tuple[str, np.ndarray]], class_names: Sequence[str]
) -> Figure:
    """One confusion matrix per entry: colour = row-normalised rate, text = count."""
    k = len(class_names)
    label_inches = 0.07 * max(len(c) for c in class_names)  # room for the tick labels
    size = 0.35 * k + 0.8
    fig, axes = _grid(len(items), 5, (size + label_inches + 0.4, size + label_inches + 0.5))
    for ax, (title, matrix) in zip(axes.flat, items, strict=False):
        matrix = np.asarray(matrix, dtype=float)
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        if k <= 10:
            for (i, j), count in np.ndenumerate(matrix):
                ax.text(j, i, f"{count:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.6 else "black")
        ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), class_names, fontsize=7)
        ax.set_title(title, fontsize=8)
    # fixed spacing (tight_layout would cost an extra layout pass per axes on big grids)
    fig.subplots_adjust(wspace=(label_inches + 0.3) / size, hspace=(label_inches + 0.6) / size)
    return fig


def _one_vs_rest(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary: class 1 scores; multi-class: micro-averaged one-vs-rest (flattened)."""
    if scores.shape[1] == 2:
        return (labels == 1).astype(int), scores[:, 1]
    truth = labels[:, None] == np.arange(scores.shape[1])[None, :]
    return truth.ravel().astype(int), scores.ravel()


def curve_figure(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], kind: str) -> Figure:
    """ROC (``kind="roc"``) or precision-recall (``"pr"``) curves of ``(label, labels, scores)``.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    for label, labels, scores in curves:
        truth, score = _one_vs_rest(np.asarray(labels), np.asarray(scores, dtype=float))
        if kind == "roc":
            fpr, tpr, _ = roc_curve(truth, score)
            ax.plot(fpr, tpr, label=label)
        else:
            precision, recall, _ = precision_recall_curve(truth, score)
            ax.step(recall, precision, where="post", label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    else:
        ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
    fig.tight_layout()
    return fig


def f1_heatmap(entries: Sequence[str], classes: Sequence[str], f1: np.ndarray) -> Figure:
    """Entries × classes F1, annotated."""
    f1 = np.asarray(f1, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 0.8 + 0.35 * len(entries)))
    image = ax.imshow(f1, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(f1):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 else "white")
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(entries)), entries, fontsize=8)
    ax.set_title("F1 per class", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def pareto_front(throughput: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of points no other point beats on both axes, by descending throughput."""
    order = np.lexsort((-accuracy, -throughput))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return np.asarray(front, dtype=int)


def pareto_scatter(labels: Sequence[str], throughput: np.ndarray, accuracy: np.ndarray) -> Figure:
    """Accuracy against inference throughput (log axis) with the Pareto front."""
    throughput, accuracy = np.asarray(throughput, float), np.asarray(accuracy, float)
    keep = np.isfinite(throughput) & np.isfinite(accuracy) & (throughput > 0)
    labels = [label for label, k in zip(labels, keep, strict=True) if k]
    throughput, accuracy = throughput[keep], accuracy[keep]
    fig, ax = plt.subplots(figsize=(7, 4.6))
    ax.scatter(throughput, accuracy, s=28, color="tab:blue", alpha=0.7, label="entries")
    front = pareto_front(throughput, accuracy)
    if front.size:
        xs, ys = throughput[front][::-1], accuracy[front][::-1]
        ax.step(xs, ys, where="post", color="tab:red", linewidth=1.2, label="Pareto front")
        ax.scatter(xs, ys, s=40, facecolors="none", edgecolors="tab:red")
        for i in front:
            ax.annotate(labels[i], (throughput[i], accuracy[i]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set(xlabel="inference throughput (images/s, log scale)", ylabel="accuracy",
           title="Accuracy vs throughput")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def learning_curves(histories: Sequence[tuple[str, dict[str, list[float]]]]) -> Figure:
    """Training (solid) and validation (dashed) curves, one panel per metric."""
    metrics = sorted({k.removeprefix("val_") for _, h in histories for k in h})
    fig, axes = _grid(len(metrics), 3, (4.2, 3.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for i, (label, history) in enumerate(histories):
            colour = colours[i % len(colours)]
            for key, style in ((metric, "-"), (f"val_{metric}", "--")):
                if history.get(key):
                    epochs = np.arange(1, len(history[key]) + 1)
                    ax.plot(epochs, history[key], style, color=colour,
                            label=f"{label} ({'val' if key.startswith('val_') else 'train'})")
        ax.set(xlabel="epoch", title=metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
