"""Leaderboards from stored runs: aggregate cells over seeds with bootstrap CIs, compare every
entry with the leader, and render md/csv/html/json/latex.

Nothing here retrains: every number comes from ``run.json`` and ``records.jsonl``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench import stats
from bench.errors import HybenchError
from bench.records import write_text_atomic
from bench.runs import RunSet, load_runs
from bench.writers import (
    Block,
    Heading,
    Notes,
    Table,
    first_line,
    fmt_count,
    fmt_metric,
    fmt_number,
    fmt_seconds,
    frame_records,
    html_page,
    to_html_fragment,
    to_latex,
    to_markdown,
)

FORMATS = ("md", "csv", "html", "json", "latex")
DECISIONS = ("argmax", "val-threshold")
HEADLINE = (
    "accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "rarest_recall", "rarest_f1",
)
SORT_KEYS = (*HEADLINE, "fit_seconds", "images_per_second", "n_parameters")
ASCENDING = ("fit_seconds", "n_parameters")  # smaller is better
LABELS = {
    "accuracy": "ACC", "balanced_accuracy": "Bal. ACC", "macro_f1": "Macro-F1",
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "rarest_recall": "Rarest-class recall",
    "rarest_f1": "Rarest-class F1", "fit_seconds": "Fit s", "images_per_second": "Images/s",
    "n_parameters": "Params",
}
N_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
STATUS_TEXT = {
    "not_applicable": "not applicable", "skipped": "skipped", "error": "error",
    "timeout": "timeout",
}
RANDOM_WEIGHTS_FLAG = " (random weights)"
ENTRY = ("dataset", "model", "imbalance")


# ------------------------------------------------------------------------------------ cell stats


@dataclass(frozen=True)
class CellStats:
    """One record's headline metrics on all test rows and under every bootstrap resample."""

    decision: str  # the decision applied: "val-threshold" only where a threshold is stored
    threshold: float | None
    rarest: int  # class index with the smallest test support
    point: dict[str, float]
    resampled: dict[str, np.ndarray]

    def interval(self, metric: str) -> tuple[float, float]:
        """The metric's percentile bootstrap interval."""
        return stats.percentile_interval(self.resampled[metric], CONFIDENCE)


def rarest_class(labels: np.ndarray, n_classes: int) -> int:
    """Index of the class with the smallest positive test support (lowest index on ties)."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    counts[counts == 0] = np.inf
    return int(np.argmin(counts))


def cell_stats(runs: RunSet, record: dict, decision: str = "argmax") -> CellStats:
    """Headline metrics of an ok record (cached on the RunSet).

    "val-threshold" applies where the record stores a threshold (binary tasks), else argmax.
    """
    key = (record["cell_id"], decision)
    if key in runs._stats:
        return runs._stats[key]
    stored = record.get("threshold") if decision == "val-threshold" else None
    if decision != "argmax" and not stored:
        runs._stats[key] = cell_stats(runs, record)
        return runs._stats[key]
    labels = np.asarray(record["test_labels"], dtype=np.int64)
    scores = np.asarray(record["test_scores"], dtype=np.float64)
    threshold = float(stored["value"]) if stored else None
    rarest = rarest_class(labels, scores.shape[1])
    names = {m: m for m in stats.METRICS if m not in stats.RANKING or not stored}
    names.update(rarest_recall=f"recall:{rarest}", rarest_f1=f"f1:{rarest}")
    seed = (BOOTSTRAP_SEED, int(record["seed"]) % 2**32)
    weights = stats.bootstrap_weights(len(labels), N_RESAMPLES, seed)
    metrics = list(names.values())
    resampled = stats.metric_distribution(labels, scores, metrics, weights, threshold=threshold)
    ones = np.ones((1, len(labels)))
    point = stats.metric_distribution(labels, scores, metrics, ones, threshold=threshold)
    cell = CellStats(
        decision="val-threshold" if stored else "argmax",
        threshold=threshold,
        rarest=rarest,
        point={h: float(point[m][0]) for h, m in names.items()},
        resampled={h: resampled[m] for h, m in names.items()},
    )
    if stored:  # ranking metrics do not depend on the threshold
        base = cell_stats(runs, record)
        cell.point.update({m: base.point[m] for m in stats.RANKING})
        cell.resampled.update({m: base.resampled[m] for m in stats.RANKING})
    runs._stats[key] = cell
    return cell


def decisions_of(record: dict, cell: CellStats) -> np.ndarray:
    """The record's test decisions under the cell's applied decision rule."""
    return stats.predictions(np.asarray(record["test_scores"], dtype=np.float64), cell.threshold)


def entries(runs: RunSet) -> dict[tuple[str, str, str], list[dict]]:
    """Ok records grouped by (dataset, model, imbalance), seeds ascending."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for record in sorted(runs.ok, key=lambda r: int(r["seed"])):
        groups.setdefault(tuple(record[k] for k in ENTRY), []).append(record)
    return groups


# ------------------------------------------------------------------------------------ tables


def check_choice(value: str, valid: Sequence[str], what: str) -> None:
    """One-line error for a value outside ``valid``."""
    if value not in valid:
        raise HybenchError(f"unknown {what} {value!r}", f"use one of {', '.join(valid)}")


def _mean(values: Iterable[float | None]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _std(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan


def _entry_row(runs: RunSet, records: list[dict], decision: str) -> dict:
    first = records[0]
    cells = [cell_stats(runs, r, decision) for r in records]
    row = {k: first[k] for k in ENTRY}
    row.update(
        family=first.get("family"),
        features=first.get("features"),
        weights=first.get("weights"),
        seeds=",".join(str(r["seed"]) for r in records),
        n_seeds=len(records),
        decision=cells[0].decision,
        threshold=_mean(c.threshold for c in cells),
        test_n=len(first["test_labels"]),
        n_classes=len(first["class_names"]),
        rarest_class=first["class_names"][cells[0].rarest],
    )
    for metric in HEADLINE:
        values = [c.point[metric] for c in cells]
        row[metric] = _mean(values)
        row[f"{metric}_std"] = _std(values)
        seed_mean = np.mean([c.resampled[metric] for c in cells], axis=0)
        low, high = stats.percentile_interval(seed_mean, CONFIDENCE)
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = low, high
    row["accuracy_argmax"] = _mean(cell_stats(runs, r).point["accuracy"] for r in records)
    row["accuracy_val_threshold"] = (
        _mean(cell_stats(runs, r, "val-threshold").point["accuracy"] for r in records
              if r.get("threshold"))
        if len(first["class_names"]) == 2 else math.nan
    )
    row["fit_seconds"] = _mean(r.get("fit_seconds") for r in records)
    row["images_per_second"] = _mean(
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
    rows = [_entry_row(runs, records, decision) for records in entries(runs).values()]
    if not rows:
        return pd.DataFrame(columns=[*ENTRY, *HEADLINE])
    table = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(runs.datasets)}
    table["_dataset_order"] = table["dataset"].map(order)
    table = table.sort_values(
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


def per_class_table(
    runs: RunSet, *, sort_by: str = "macro_f1", decision: str = "argmax"
) -> pd.DataFrame:
    """Entries × classes (long form): precision, recall, F1 and support, means over seeds."""
    board = leaderboard_table(runs, sort_by=sort_by, decision=decision)
    groups = entries(runs)
    rows = []
    for entry in board[list(ENTRY)].itertuples(index=False, name=None):
        per_seed = []
        for record in groups[entry]:
            use_threshold = cell_stats(runs, record, decision).threshold is not None
            per_seed.append((record["threshold"] if use_threshold else record)["per_class"])
        for c, item in enumerate(per_seed[0]):
            rows.append({
                **dict(zip(ENTRY, entry, strict=True)),
                "class": item["class"],
                **{k: _mean(seed[c][k] for seed in per_seed) for k in ("precision", "recall",
                                                                         "f1", "support")},
            })
    columns = [*ENTRY, "class", "precision", "recall", "f1", "support"]
    return pd.DataFrame(rows, columns=columns)


def paired_table(
    runs: RunSet, *, metric: str = "macro_f1", decision: str = "argmax"
) -> pd.DataFrame:
    """Every entry against its dataset's leader on the same test rows (common seeds).

    ``delta`` = entry − leader, mean over common seeds; CI and p from a paired bootstrap (same
    resamples for both, metric averaged over seeds). McNemar pools the decisions of all seeds.
    """
    check_choice(metric, HEADLINE, "paired-comparison metric")
    board = leaderboard_table(runs, sort_by=metric, decision=decision)
    groups = entries(runs)
    rows = []
    for _, part in board.groupby("dataset", sort=False):
        keys = list(part[list(ENTRY)].itertuples(index=False, name=None))
        leader = {int(r["seed"]): r for r in groups[keys[0]]}
        for key in keys[1:]:
            pairs = [(r, leader[int(r["seed"])]) for r in groups[key] if int(r["seed"]) in leader]
            if pairs:
                rows.append(_paired_row(runs, key, keys[0], pairs, metric, decision))
    columns = [*ENTRY, "leader", "metric", "seeds", "delta", "ci_low", "ci_high", "p_value",
               "mcnemar_b", "mcnemar_c", "mcnemar_statistic", "mcnemar_p"]
    return pd.DataFrame(rows, columns=columns)


def _paired_row(runs, key, leader_key, pairs, metric, decision) -> dict:
    deltas, resampled, labels, pred_entry, pred_leader = [], [], [], [], []
    for record, best in pairs:
        if record["test_labels"] != best["test_labels"]:
            raise HybenchError(
                f"{record['cell_id']} and {best['cell_id']} have different test labels",
                "re-run both with the same split options",
            )
        a, b = cell_stats(runs, record, decision), cell_stats(runs, best, decision)
        deltas.append(a.point[metric] - b.point[metric])
        resampled.append(a.resampled[metric] - b.resampled[metric])
        labels.extend(record["test_labels"])
        pred_entry.append(decisions_of(record, a))
        pred_leader.append(decisions_of(best, b))
    summary = stats.paired_summary(_mean(deltas), np.mean(resampled, axis=0), CONFIDENCE)
    test = stats.mcnemar(np.asarray(labels), np.concatenate(pred_entry),
                         np.concatenate(pred_leader))
    return {
        **dict(zip(ENTRY, key, strict=True)),
        "leader": f"{leader_key[1]} / {leader_key[2]}",
        "metric": metric,
        "seeds": ",".join(str(r["seed"]) for r, _ in pairs),
        "delta": summary["delta"], "ci_low": summary["low"], "ci_high": summary["high"],
        "p_value": summary["p_value"],
        "mcnemar_b": test["b"], "mcnemar_c": test["c"],
        "mcnemar_statistic": test["statistic"], "mcnemar_p": test["p_value"],
    }


# ------------------------------------------------------------------------- document blocks


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


def _leaderboard_blocks(board: pd.DataFrame, dataset: str, decision: str) -> list[Block]:
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
                 row["imbalance"], row["seeds"], *(fmt_metric(row, m) for m in HEADLINE)]
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


def _paired_blocks(paired: pd.DataFrame, metric: str, decision: str) -> list[Block]:
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
        f"{stats.EXACT_MCNEMAR_BELOW}, else chi-square with continuity correction.",
    ]
    return [Heading(3, f"Against the leader ({paired.iloc[0]['leader']}), {label}"),
            Table(headers, rows), Notes(notes)]


def _per_class_blocks(per_class: pd.DataFrame, board: pd.DataFrame) -> list[Block]:
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


def leaderboard_document(
    runs: RunSet, *, sort_by: str = "macro_f1", decision: str = "argmax"
) -> list[Block]:
    """Every leaderboard section as format-neutral blocks (headings, tables, notes)."""
    board = leaderboard_table(runs, sort_by=sort_by, decision=decision)
    paired_metric = sort_by if sort_by in HEADLINE else "macro_f1"
    paired = paired_table(runs, metric=paired_metric, decision=decision)
    per_class = per_class_table(runs, sort_by=sort_by, decision=decision)
    blocks: list[Block] = [
        Heading(1, "hybench leaderboard"),
        Notes([f"Runs: {', '.join(str(r.path) for r in runs.runs)}",
               f"Sorted by {LABELS[sort_by]}; decision: {decision}."]),
    ]
    if board.empty:
        blocks.append(Notes(["No finished (ok) cells yet."]))
    for dataset in runs.datasets:
        part = board[board["dataset"] == dataset]
        if part.empty:
            continue
        blocks += _leaderboard_blocks(part, dataset, decision)
        blocks += _per_class_blocks(per_class[per_class["dataset"] == dataset], part)
        blocks += _paired_blocks(paired[paired["dataset"] == dataset], paired_metric, decision)
    missing = not_run_table(runs)
    if not missing.empty:
        blocks += [
            Heading(2, "Not run"),
            Table(["Dataset", "Model", "Imbalance", "Seed", "Status", "Reason"],
                  [[r["dataset"], r["model"], r["imbalance"], str(r["seed"]),
                    STATUS_TEXT.get(r["status"], r["status"]), first_line(r["reason"])]
                   for _, r in missing.iterrows()]),
        ]
    return blocks


# ------------------------------------------------------------------------------------ render


def render(
    runs: RunSet, fmt: str, *, sort_by: str = "macro_f1", decision: str = "argmax"
) -> str:
    """The leaderboard as ``md``, ``csv`` (main table), ``html`` (page), ``json`` or ``latex``."""
    check_choice(fmt, FORMATS, "leaderboard format")
    check_choice(sort_by, SORT_KEYS, "sort metric")
    check_choice(decision, DECISIONS, "decision")
    if fmt == "csv":
        return leaderboard_table(runs, sort_by=sort_by, decision=decision).to_csv(index=False)
    if fmt == "json":
        paired_metric = sort_by if sort_by in HEADLINE else "macro_f1"
        payload = {
            "runs": [str(r.path) for r in runs.runs],
            "sort_by": sort_by, "decision": decision, "confidence": CONFIDENCE,
            "n_resamples": N_RESAMPLES, "bootstrap_seed": BOOTSTRAP_SEED,
            "leaderboard": frame_records(leaderboard_table(runs, sort_by=sort_by,
                                                           decision=decision)),
            "per_class": frame_records(per_class_table(runs, sort_by=sort_by,
                                                       decision=decision)),
            "paired": frame_records(paired_table(runs, metric=paired_metric,
                                                 decision=decision)),
            "not_run": frame_records(not_run_table(runs)),
        }
        return json.dumps(payload, indent=2) + "\n"
    blocks = leaderboard_document(runs, sort_by=sort_by, decision=decision)
    if fmt == "md":
        return to_markdown(blocks)
    if fmt == "latex":
        return to_latex(blocks)
    return html_page("hybench leaderboard", to_html_fragment(blocks))


def write_run_leaderboards(run_dir: Path) -> None:
    """Write ``leaderboard.md`` and ``leaderboard.csv`` into a run directory (atomically)."""
    runs = load_runs([Path(run_dir)])
    write_text_atomic(Path(run_dir) / "leaderboard.md", render(runs, "md"))
    write_text_atomic(Path(run_dir) / "leaderboard.csv", render(runs, "csv"))
