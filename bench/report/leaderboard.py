"""Leaderboard tables from stored runs: entries aggregated over seeds with bootstrap CIs, ranked
on validation (or, when asked, test) metrics, the per-class table, the paired comparisons against
a reference chosen without the test set, and the cells that did not run. :class:`Leaderboard`
builds them once per render.

Nothing here retrains: every number comes from ``run.json`` and ``records.jsonl``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybench.errors import HybenchError
from hybench.report.paired import Reference, choose_references, paired_table
from hybench.results.cell_stats import BOOTSTRAP_SEED, CELL_METRICS, CONFIDENCE
from hybench.results.records import DECISIONS, decision_part
from hybench.results.runs import ENTRY, RunSet
from hybench.results.statistics import (
    combine_seeds,
    finite_mean,
    finite_std,
    percentile_interval,
)

SORT_KEYS = (*CELL_METRICS, "fit_seconds", "images_per_second", "n_parameters")
ASCENDING = ("fit_seconds", "n_parameters")  # smaller is better
SELECT_ON = ("val", "test")
CLASS_MIX_TOLERANCE = 0.02  # a class share differing by more between val and test is noted


@dataclass(frozen=True)
class Leaderboard:
    """Every table of one leaderboard render, built once and passed to every writer."""

    runs: RunSet
    sort_by: str
    decision: str
    select_on: str  # "val": ranked and reference chosen on validation metrics; "test": on test
    board: pd.DataFrame  # one row per entry, ranked by ``sort_by`` on the ``select_on`` split
    per_class: pd.DataFrame
    paired_metric: str  # ``sort_by`` when it is a metric, else macro-F1
    references: dict[str, Reference]  # per dataset: the entry every other is compared with
    paired: pd.DataFrame
    not_run: pd.DataFrame


def build_leaderboard(
    runs: RunSet,
    *,
    sort_by: str = "macro_f1",
    decision: str = "argmax",
    select_on: str = "val",
    reference: str | None = None,
) -> Leaderboard:
    """All tables for ``runs``.

    ``select_on``: the split whose metric ranks the entries and picks the paired reference
    ("val" keeps the test set out of every choice). ``reference``: ``MODEL[/IMBALANCE]`` to
    compare against instead of the best entry.
    """
    board = leaderboard_table(runs, sort_by=sort_by, decision=decision, select_on=select_on)
    paired_metric = sort_by if sort_by in CELL_METRICS else "macro_f1"
    references = choose_references(board, paired_metric, select_on, reference)
    return Leaderboard(
        runs=runs,
        sort_by=sort_by,
        decision=decision,
        select_on=select_on,
        board=board,
        per_class=per_class_table(runs, board, decision),
        paired_metric=paired_metric,
        references=references,
        paired=paired_table(runs, board, references, paired_metric, decision),
        not_run=not_run_table(runs),
    )


def ranking_column(sort_by: str, select_on: str) -> str:
    """The board column that orders entries: ``val_<metric>`` when selecting on validation."""
    return f"val_{sort_by}" if select_on == "val" and sort_by in CELL_METRICS else sort_by


def check_choice(value: str, valid: Sequence[str], what: str) -> None:
    """One-line error for a value outside ``valid``."""
    if value not in valid:
        raise HybenchError(f"unknown {what} {value!r}", f"use one of {', '.join(valid)}")


def _entry_row(runs: RunSet, records: list[dict], decision: str) -> dict:
    first = records[0]
    cells = [runs.stats.get(r, decision) for r in records]
    splits = [c.split for c in cells]
    row = {k: first[k] for k in ENTRY}
    row.update(
        family=first.get("family"),
        features=first.get("features"),
        weights=first.get("weights"),
        seeds=",".join(str(r["seed"]) for r in records),
        n_seeds=len(records),
        n_splits=len(set(splits)),
        decision=cells[0].decision,
        threshold=finite_mean(c.threshold for c in cells),
        test_n=len(first["test_labels"]),
        val_n=len(first["val_labels"]),
        n_classes=len(first["class_names"]),
        rarest_class=first["class_names"][cells[0].rarest],
    )
    for metric in CELL_METRICS:
        values = [c.point[metric] for c in cells]
        row[metric] = finite_mean(values)
        row[f"{metric}_std"] = finite_std(values)
        seed_mean = combine_seeds([c.resampled[metric] for c in cells], splits, BOOTSTRAP_SEED)
        low, high = percentile_interval(seed_mean, CONFIDENCE)
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
        row[f"val_{metric}"] = finite_mean(c.val[metric] for c in cells)
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
    runs: RunSet, *, sort_by: str = "macro_f1", decision: str = "argmax", select_on: str = "val"
) -> pd.DataFrame:
    """One row per (dataset, model, imbalance): means over seeds, std across seeds, 95% CIs of the
    test metrics, and the validation metrics (``val_<metric>``) that rank them by default.

    Headline metrics follow ``decision`` ("val-threshold" applies to binary tasks whose records
    store a validation-chosen threshold; others stay argmax, see the ``decision`` column).
    """
    check_choice(sort_by, SORT_KEYS, "sort metric")
    check_choice(decision, DECISIONS, "decision")
    check_choice(select_on, SELECT_ON, "--select-on split")
    rows = [_entry_row(runs, records, decision) for records in runs.entries.values()]
    if not rows:
        return pd.DataFrame(columns=[*ENTRY, *CELL_METRICS])
    return ranked(pd.DataFrame(rows), ranking_column(sort_by, select_on), runs.datasets)


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


def class_mix(runs: RunSet, dataset: str) -> dict[str, list[float]]:
    """Class shares of the train, val and test rows of ``dataset`` (summed over its records'
    distinct splits)."""
    totals: dict[str, np.ndarray] = {}
    seen: set[str] = set()
    for record in runs.ok:
        if record["dataset"] != dataset or record["split_fingerprint"] in seen:
            continue
        seen.add(record["split_fingerprint"])
        for split, counts in (record.get("class_counts") or {}).items():
            totals[split] = totals.get(split, 0) + np.asarray(counts, dtype=np.float64)
    return {split: (counts / counts.sum()).tolist() for split, counts in totals.items()}


def class_mix_differs(mix: dict[str, list[float]]) -> bool:
    """Whether the validation and test class shares differ by more than the tolerance."""
    if "val" not in mix or "test" not in mix:
        return False
    gap = np.abs(np.asarray(mix["val"]) - np.asarray(mix["test"]))
    return bool(gap.max() > CLASS_MIX_TOLERANCE)
