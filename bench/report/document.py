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
from hybench.report.leaderboard import Leaderboard, class_mix, class_mix_differs
from hybench.report.paired import Reference
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
SPLIT_LABELS = {"val": "validation", "test": "test"}
ALPHA = 0.05


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


def _ranking_note(leaderboard: Leaderboard) -> str:
    label = LABELS[leaderboard.sort_by]
    if leaderboard.sort_by not in CELL_METRICS:
        return f"Ranked by {label}."
    if leaderboard.select_on == "val":
        return (f"Ranked by validation {label} (column Val {label}; the test set chooses "
                "nothing); test metrics beside it.")
    return (f"Ranked by test {label} (--select-on test): choosing on the test set makes the "
            "leader's score optimistic.")


def _class_mix_note(mix: dict[str, list[float]], class_names: list[str]) -> str | None:
    if not class_mix_differs(mix):
        return None
    shares = "; ".join(
        f"{split} " + " / ".join(f"{share:.1%} {name}" for share, name in
                                 zip(mix[split], class_names, strict=True))
        for split in ("train", "val", "test") if split in mix
    )
    return (f"Class mix differs between validation and test ({shares}): argmax accuracy and the "
            "other decision metrics depend on it; ROC-AUC / PR-AUC do not; the threshold of "
            "--decision val-threshold is chosen for balanced accuracy on validation.")


def _leaderboard_blocks(leaderboard: Leaderboard, board: pd.DataFrame, dataset: str,
                        ) -> list[DocBlock]:
    decision, metric = leaderboard.decision, leaderboard.paired_metric
    first = board.iloc[0]
    binary = first["n_classes"] == 2
    rarest = first["rarest_class"]
    headers = ["#", "Model", "Family", "Features", "Imbalance", "Seeds",
               f"Val {LABELS[metric]}", "ACC", "Bal. ACC", "Macro-F1", "ROC-AUC", "PR-AUC",
               f"Recall ({rarest})", f"F1 ({rarest})"]
    if binary:
        headers += ["ACC (val thr.)"] if decision == "argmax" else ["ACC (argmax)", "Threshold"]
    headers += ["Fit s", "Images/s", "Params"]
    rows = []
    for _, row in board.iterrows():
        cells = [str(row["rank"]), display_model(row), str(row["family"]), str(row["features"]),
                 row["imbalance"], row["seeds"], fmt_number(row[f"val_{metric}"]),
                 *(fmt_metric(row, m) for m in CELL_METRICS)]
        if binary and decision == "argmax":
            cells.append(fmt_number(row["accuracy_val_threshold"]))
        elif binary:
            cells += [fmt_number(row["accuracy_argmax"]), fmt_number(row["threshold"])]
        cells += [fmt_seconds(row["fit_seconds"]), fmt_count(row["images_per_second"]),
                  fmt_count(row["n_parameters"])]
        rows.append(cells)
    resplit = (board["n_splits"] > 1).any()
    notes = [
        _ranking_note(leaderboard),
        _decision_note(decision, binary),
        f"Cells: mean over seeds, ± std across seeds (several seeds only), [{CONFIDENCE:.0%} "
        f"CI]: percentile bootstrap of the test rows ({N_RESAMPLES} resamples, seed "
        f"{BOOTSTRAP_SEED}). Seeds on the same test split share one set of resamples and the "
        "metric is averaged over seeds inside each resample, so repeated seeds never narrow the "
        "CI by reusing the same rows"
        + ("; entries whose seeds use different splits get a two-level bootstrap (splits, then "
           "rows)." if resplit else "."),
        f"Rarest class: {rarest} (smallest test support). ROC-AUC / PR-AUC: class 1 for binary "
        "tasks, else macro one-vs-rest.",
        "Fit s: training seconds; Images/s: end-to-end inference from raw uint8 images "
        "(features included); both means over seeds.",
    ]
    mix = _class_mix_note(class_mix(leaderboard.runs, dataset), first_class_names(leaderboard,
                                                                                  dataset))
    if mix:
        notes.append(mix)
    if (board["weights"] == "none").any():
        notes.append("(random weights): backbone without pretrained weights, not a fair entry.")
    return [Heading(2, f"{dataset} — {len(board)} entries, val n = {first['val_n']}, "
                       f"test n = {first['test_n']}"),
            Table(headers, rows), Notes(notes)]


def first_class_names(leaderboard: Leaderboard, dataset: str) -> list[str]:
    """The class names of ``dataset`` (from its first ok record)."""
    return next(r["class_names"] for r in leaderboard.runs.ok if r["dataset"] == dataset)


def _reference_rule(reference: Reference, metric: str) -> str:
    if reference.chosen_by == "named":
        return "named with --reference"
    if reference.chosen_by == "val":
        return f"best validation {LABELS[metric]}, chosen without the test set"
    return f"best test {LABELS[metric]}, chosen on the test set (optimistic)"


def _paired_blocks(paired: pd.DataFrame, reference: Reference, metric: str, decision: str,
                   ) -> list[DocBlock]:
    if paired.empty:
        return []
    label = LABELS[metric]
    rows = [
        [display_model(row), row["imbalance"], row["seeds"],
         f"{row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]",
         f"{row['p_value']:.3g}", f"{row['p_value_holm']:.3g}",
         f"{fmt_count_or_mean(row['mcnemar_b'])} / {fmt_count_or_mean(row['mcnemar_c'])}",
         f"{row['mcnemar_p']:.3g}", f"{row['mcnemar_p_holm']:.3g}"]
        for _, row in paired.iterrows()
    ]
    headers = ["Model", "Imbalance", "Seeds", f"Δ {label} [{CONFIDENCE:.0%} CI]",
               "p (bootstrap)", "p Holm", "McNemar b / c", "p (McNemar)", "p Holm (McNemar)"]
    significant = int((paired["p_value_holm"] < ALPHA).sum())
    significant_mcnemar = int((paired["mcnemar_p_holm"] < ALPHA).sum())
    notes = [
        f"Δ = entry − reference on the same test rows (paired bootstrap, {N_RESAMPLES} resamples "
        "shared by both entries, Δ averaged over common seeds inside each resample); p: "
        "two-sided p of Δ = 0 from Δ and its bootstrap standard error (normal approximation).",
        f"McNemar's test on the {decision} decisions: b = rows only the entry gets right, c = "
        "rows only the reference gets right, each averaged over seeds (the same rows count "
        f"once); exact binomial when b + c < {statistics.EXACT_MCNEMAR_BELOW}, else chi-square "
        "with continuity correction.",
        f"p Holm: Holm–Bonferroni adjusted over the {len(paired)} comparisons of this table. "
        f"Significant at {ALPHA} after adjustment: {significant} of {len(paired)} (bootstrap), "
        f"{significant_mcnemar} of {len(paired)} (McNemar).",
    ]
    return [Heading(3, f"Against the reference {reference.label} "
                       f"({_reference_rule(reference, metric)}), {label}"),
            Table(headers, rows), Notes(notes)]


def fmt_count_or_mean(value: float) -> str:
    """A discordant count: whole numbers as integers, seed means with one decimal."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


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
               f"Sorted by {SPLIT_LABELS[leaderboard.select_on]} {LABELS[leaderboard.sort_by]}; "
               f"decision: {decision}."]),
    ]
    if board.empty:
        blocks.append(Notes(["No finished (ok) cells yet."]))
    for dataset in runs.datasets:
        part = board[board["dataset"] == dataset]
        if part.empty:
            continue
        per_class = leaderboard.per_class
        paired = leaderboard.paired
        blocks += _leaderboard_blocks(leaderboard, part, dataset)
        blocks += _per_class_blocks(per_class[per_class["dataset"] == dataset], part)
        blocks += _paired_blocks(paired[paired["dataset"] == dataset],
                                 leaderboard.references[dataset], leaderboard.paired_metric,
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
