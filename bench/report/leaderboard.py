"""Leaderboard tables from stored runs: entries aggregated over seeds with bootstrap CIs, the
per-class table and the cells that did not run. :class:`Leaderboard` builds them once per render.

Nothing here retrains: every number comes from ``run.json`` and ``records.jsonl``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybench.errors import HybenchError
from hybench.report.paired import paired_table
from hybench.results.cell_stats import CELL_METRICS, CONFIDENCE
from hybench.results.records import DECISIONS, decision_part
from hybench.results.runs import ENTRY, RunSet
from hybench.results.statistics import finite_mean, finite_std, percentile_interval

SORT_KEYS = (*CELL_METRICS, "fit_seconds", "images_per_second", "n_parameters")
ASCENDING = ("fit_seconds", "n_parameters")  # smaller is better


@dataclass(frozen=True)
class Leaderboard:
    """Every table of one leaderboard render, built once and passed to every writer."""

    runs: RunSet
    sort_by: str
    decision: str
    board: pd.DataFrame  # one row per entry, ranked by ``sort_by``
    per_class: pd.DataFrame
    paired_metric: str  # ``sort_by`` when it is a metric, else macro-F1
    paired: pd.DataFrame
    not_run: pd.DataFrame


def build_leaderboard(
    runs: RunSet, *, sort_by: str = "macro_f1", decision: str = "argmax"
) -> Leaderboard:
    """All tables for ``runs``; the paired comparisons rank by the paired metric."""
    board = leaderboard_table(runs, sort_by=sort_by, decision=decision)
    paired_metric = sort_by if sort_by in CELL_METRICS else "macro_f1"
    by_metric = board if board.empty else ranked(board, paired_metric, runs.datasets)
    return Leaderboard(
        runs=runs,
        sort_by=sort_by,
        decision=decision,
        board=board,
        per_class=per_class_table(runs, board, decision),
        paired_metric=paired_metric,
        paired=paired_table(runs, by_metric, paired_metric, decision),
        not_run=not_run_table(runs),
    )


def check_choice(value: str, valid: Sequence[str], what: str) -> None:
    """One-line error for a value outside ``valid``."""
    if value not in valid:
        raise HybenchError(f"unknown {what} {value!r}", f"use one of {', '.join(valid)}")


def _entry_row(runs: RunSet, records: list[dict], decision: str) -> dict:
    first = records[0]
    cells = [runs.stats.get(r, decision) for r in records]
    row = {k: first[k] for k in ENTRY}
    row.update(
        family=first.get("family"),
        features=first.get("features"),
        weights=first.get("weights"),
        seeds=",".join(str(r["seed"]) for r in records),
        n_seeds=len(records),
        decision=cells[0].decision,
        threshold=finite_mean(c.threshold for c in cells),
        test_n=len(first["test_labels"]),
        n_classes=len(first["class_names"]),
        rarest_class=first["class_names"][cells[0].rarest],
    )
    for metric in CELL_METRICS:
        values = [c.point[metric] for c in cells]
        row[metric] = finite_mean(values)
        row[f"{metric}_std"] = finite_std(values)
        seed_mean = np.mean([c.resampled[metric] for c in cells], axis=0)
        low, high = percentile_interval(seed_mean, CONFIDENCE)
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
    row["accuracy_argmax"] = finite_mean(runs.stats.get(r).point["accuracy"] for r in records)
    row["accuracy_val_threshold"] = (
        finite_mean(runs.stats.get(r, "val-threshold").point["accuracy"] for r in records
                    if r.get("threshold"))
        if len(first["class_names"]) == 2 else math.nan
    )
    row["fit_seconds"] = finite_mean(r.get("fit_seconds") for r in records)
    row["images_per_second"] = finite_mean(
        (r.get("inference") or {}).get("images_per_second") for r in records
    )
    row["n_parameters"] = next((r["n_parameters"] for r in records if r.get("n_parameters")), None)
    return row


def leaderboard_table(
    runs: RunSet, *, sort_by: str = "macro_f1", decision: str = "argmax"
) -> pd.DataFrame:
    """One row per (dataset, model, imbalance): means over seeds, std across seeds, 95% CIs.

    Headline metrics follow ``decision`` ("val-threshold" applies to binary tasks whose records
    store a validation-chosen threshold; others stay argmax, see the ``decision`` column).
    """
    check_choice(sort_by, SORT_KEYS, "sort metric")
    check_choice(decision, DECISIONS, "decision")
    rows = [_entry_row(runs, records, decision) for records in runs.entries.values()]
    if not rows:
        return pd.DataFrame(columns=[*ENTRY, *CELL_METRICS])
    return ranked(pd.DataFrame(rows), sort_by, runs.datasets)


def ranked(table: pd.DataFrame, sort_by: str, datasets: list[str]) -> pd.DataFrame:
    """``table`` ordered by dataset, then best ``sort_by`` first (ties by model, imbalance), with
    a fresh ``rank`` per dataset. Rows are unique per entry, so the order is total."""
    table = table.drop(columns="rank", errors="ignore")
    order = {name: i for i, name in enumerate(datasets)}
    table = table.assign(_dataset_order=table["dataset"].map(order)).sort_values(
        ["_dataset_order", sort_by, "model", "imbalance"],
        ascending=[True, sort_by in ASCENDING, True, True],
        na_position="last",
        kind="stable",
    ).drop(columns="_dataset_order")
    table.insert(0, "rank", table.groupby("dataset").cumcount() + 1)
    return table.reset_index(drop=True)


def not_run_table(runs: RunSet) -> pd.DataFrame:
    """Cells whose latest record is not ok: status and reason."""
    rows = [
        {**{k: r[k] for k in ENTRY}, "seed": r["seed"], "status": r["status"],
         "reason": r.get("reason") or ""}
        for r in runs.records if r["status"] != "ok"
    ]
    columns = [*ENTRY, "seed", "status", "reason"]
    return pd.DataFrame(rows, columns=columns).sort_values(columns[:4]).reset_index(drop=True)


def per_class_table(runs: RunSet, board: pd.DataFrame, decision: str = "argmax") -> pd.DataFrame:
    """Entries × classes (long form) in ``board`` order: precision, recall, F1 and support, means
    over seeds."""
    groups = runs.entries
    rows = []
    for entry in board[list(ENTRY)].itertuples(index=False, name=None):
        per_seed = [
            decision_part(record, runs.stats.get(record, decision).decision)["per_class"]
            for record in groups[entry]
        ]
        for c, item in enumerate(per_seed[0]):
            rows.append({
                **dict(zip(ENTRY, entry, strict=True)),
                "class": item["class"],
                **{k: finite_mean(seed[c][k] for seed in per_seed)
                   for k in ("precision", "recall", "f1", "support")},
            })
    columns = [*ENTRY, "class", "precision", "recall", "f1", "support"]
    return pd.DataFrame(rows, columns=columns)
