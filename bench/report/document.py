"""The leaderboard as a document: format-neutral blocks (headings, tables, notes) that every
writer (Markdown, HTML, LaTeX, the HTML report) renders the same way."""

from __future__ import annotations

import pandas as pd

from hybench.report.blocks import (
    DocBlock,
    Heading,
    Notes,
    Table,
    first_line,
    fmt_count,
    fmt_metric,
    fmt_number,
    fmt_seconds,
)
from hybench.report.leaderboard import Leaderboard
from hybench.results import statistics
from hybench.results.cell_stats import BOOTSTRAP_SEED, CELL_METRICS, CONFIDENCE, N_RESAMPLES

LABELS = {
    "accuracy": "ACC", "balanced_accuracy": "Bal. ACC", "macro_f1": "Macro-F1",
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "rarest_recall": "Rarest-class recall",
    "rarest_f1": "Rarest-class F1", "fit_seconds": "Fit s", "images_per_second": "Images/s",
    "n_parameters": "Params",
}
STATUS_TEXT = {
    "not_applicable": "not applicable", "skipped": "skipped", "error": "error",
    "timeout": "timeout",
}
RANDOM_WEIGHTS_FLAG = " (random weights)"


def display_model(row: pd.Series | dict) -> str:
    """Model name, flagged when a backbone ran with random weights."""
    return row["model"] + (RANDOM_WEIGHTS_FLAG if row.get("weights") == "none" else "")


def _decision_note(decision: str, binary: bool) -> str:
    if not binary:
        return "Decision: argmax of the class probabilities."
    if decision == "argmax":
        return ("Decision: argmax (class 1 when P(class 1) ≥ 0.5); the extra column is ACC at "
                "the threshold chosen on the validation split for balanced accuracy.")
    return ("Decision: the threshold chosen on the validation split for balanced accuracy "
            "(column Threshold); the extra column is ACC at argmax (0.5).")


def _leaderboard_blocks(board: pd.DataFrame, dataset: str, decision: str) -> list[DocBlock]:
    first = board.iloc[0]
    binary = first["n_classes"] == 2
    rarest = first["rarest_class"]
    headers = ["#", "Model", "Family", "Features", "Imbalance", "Seeds", "ACC", "Bal. ACC",
               "Macro-F1", "ROC-AUC", "PR-AUC", f"Recall ({rarest})", f"F1 ({rarest})"]
    if binary:
        headers += ["ACC (val thr.)"] if decision == "argmax" else ["ACC (argmax)", "Threshold"]
    headers += ["Fit s", "Images/s", "Params"]
    rows = []
    for _, row in board.iterrows():
        cells = [str(row["rank"]), display_model(row), str(row["family"]), str(row["features"]),
                 row["imbalance"], row["seeds"], *(fmt_metric(row, m) for m in CELL_METRICS)]
        if binary and decision == "argmax":
            cells.append(fmt_number(row["accuracy_val_threshold"]))
        elif binary:
            cells += [fmt_number(row["accuracy_argmax"]), fmt_number(row["threshold"])]
        cells += [fmt_seconds(row["fit_seconds"]), fmt_count(row["images_per_second"]),
                  fmt_count(row["n_parameters"])]
        rows.append(cells)
    notes = [
        _decision_note(decision, binary),
        f"Cells: mean over seeds, ± std across seeds (several seeds only), [{CONFIDENCE:.0%} "
        f"CI]: percentile bootstrap of the test rows ({N_RESAMPLES} resamples, seed "
        f"{BOOTSTRAP_SEED}); with several seeds each seed's test set is resampled independently "
        "and the metric averaged over seeds, i.e. the CI of the seed mean.",
        f"Rarest class: {rarest} (smallest test support). ROC-AUC / PR-AUC: class 1 for binary "
        "tasks, else macro one-vs-rest.",
        "Fit s: training seconds; Images/s: end-to-end inference from raw uint8 images "
        "(features included); both means over seeds.",
    ]
    if (board["weights"] == "none").any():
        notes.append("(random weights): backbone without pretrained weights, not a fair entry.")
    return [Heading(2, f"{dataset} — {len(board)} entries, test n = {first['test_n']}"),
            Table(headers, rows), Notes(notes)]


def _paired_blocks(paired: pd.DataFrame, metric: str, decision: str) -> list[DocBlock]:
    if paired.empty:
        return []
    label = LABELS[metric]
    rows = [
        [display_model(row), row["imbalance"], row["seeds"],
         f"{row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]",
         f"{row['p_value']:.3g}", f"{row['mcnemar_b']} / {row['mcnemar_c']}",
         f"{row['mcnemar_p']:.3g}"]
        for _, row in paired.iterrows()
    ]
    headers = ["Model", "Imbalance", "Seeds", f"Δ {label} [{CONFIDENCE:.0%} CI]",
               "p (bootstrap)", "McNemar b / c", "p (McNemar)"]
    notes = [
        f"Δ = entry − leader on the same test rows (paired bootstrap, {N_RESAMPLES} resamples, "
        "mean over common seeds); p: two-sided bootstrap p-value of Δ = 0.",
        f"McNemar's test on the {decision} decisions pooled over seeds: b = rows only the entry "
        "gets right, c = rows only the leader gets right; exact binomial when b + c < "
        f"{statistics.EXACT_MCNEMAR_BELOW}, else chi-square with continuity correction.",
    ]
    return [Heading(3, f"Against the leader ({paired.iloc[0]['leader']}), {label}"),
            Table(headers, rows), Notes(notes)]


def _per_class_blocks(per_class: pd.DataFrame, board: pd.DataFrame) -> list[DocBlock]:
    classes = list(dict.fromkeys(per_class["class"]))
    support = per_class.groupby("class", sort=False)["support"].first()
    headers = ["Model", "Imbalance", *(f"{c} (n={support[c]:.0f})" for c in classes)]
    rows = []
    for _, row in board.iterrows():
        mine = per_class[(per_class["model"] == row["model"])
                         & (per_class["imbalance"] == row["imbalance"])].set_index("class")
        rows.append([display_model(row), row["imbalance"], *(
            " / ".join(fmt_number(mine.loc[c, k], 2) for k in ("precision", "recall", "f1"))
            for c in classes)])
    return [Heading(3, "Per class: precision / recall / F1"), Table(headers, rows),
            Notes(["Means over seeds, at the decision of the table above."])]


def leaderboard_document(leaderboard: Leaderboard) -> list[DocBlock]:
    """Every leaderboard section as format-neutral blocks (headings, tables, notes)."""
    runs, board, decision = leaderboard.runs, leaderboard.board, leaderboard.decision
    blocks: list[DocBlock] = [
        Heading(1, "hybench leaderboard"),
        Notes([f"Runs: {', '.join(str(r.path) for r in runs.runs)}",
               f"Sorted by {LABELS[leaderboard.sort_by]}; decision: {decision}."]),
    ]
    if board.empty:
        blocks.append(Notes(["No finished (ok) cells yet."]))
    for dataset in runs.datasets:
        part = board[board["dataset"] == dataset]
        if part.empty:
            continue
        per_class = leaderboard.per_class
        paired = leaderboard.paired
        blocks += _leaderboard_blocks(part, dataset, decision)
        blocks += _per_class_blocks(per_class[per_class["dataset"] == dataset], part)
        blocks += _paired_blocks(paired[paired["dataset"] == dataset], leaderboard.paired_metric,
                                 decision)
    missing = leaderboard.not_run
    if not missing.empty:
        blocks += [
            Heading(2, "Not run"),
            Table(["Dataset", "Model", "Imbalance", "Seed", "Status", "Reason"],
                  [[r["dataset"], r["model"], r["imbalance"], str(r["seed"]),
                    STATUS_TEXT.get(r["status"], r["status"]), first_line(r["reason"])]
                   for _, r in missing.iterrows()]),
        ]
    return blocks
