"""Leaderboards from stored records: load and merge run directories, aggregate cells over seeds
with bootstrap CIs, compare every entry with the leader, and render md/csv/html/json/latex.

Nothing here retrains: every number comes from ``run.json`` and ``records.jsonl``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import stats
from bench.errors import HybenchError
from bench.records import SCHEMA_VERSION, latest_by_cell, read_records, write_text_atomic

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
REQUIRED = ("schema", "cell_id", "dataset", "model", "imbalance", "seed", "status",
            "split_fingerprint")
REQUIRED_OK = ("class_names", "test_labels", "test_scores", "per_class", "confusion_matrix")
ENTRY = ("dataset", "model", "imbalance")


@dataclass(frozen=True)
class Run:
    """One run directory and its ``run.json``."""

    path: Path
    meta: dict

    @property
    def reference_seconds(self) -> float | None:
        """Seconds of the fixed reference workload timed on this run's machine."""
        seconds = (self.meta.get("reference_workload") or {}).get("seconds")
        return float(seconds) if seconds else None


@dataclass
class RunSet:
    """Merged runs: the latest record of every cell and the run it came from."""

    runs: list[Run]
    records: list[dict]
    run_index: dict[str, int]  # cell_id -> index into runs
    _stats: dict = field(default_factory=dict, repr=False)  # (cell_id, decision) -> CellStats

    def run_of(self, record: dict) -> Run:
        return self.runs[self.run_index[record["cell_id"]]]

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "ok"]

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r["dataset"] for r in self.records))


# ---------------------------------------------------------------------------------------- loading


def load_runs(run_dirs: Sequence[Path]) -> RunSet:
    """Read and merge run directories; a later-finished record of a cell supersedes an earlier one.

    Runs that split the same (dataset, seed) differently are refused: their test rows differ.
    """
    if not run_dirs:
        raise HybenchError("no run directory given", "pass at least one run directory")
    runs: list[Run] = []
    chosen: dict[str, dict] = {}
    run_index: dict[str, int] = {}
    splits: dict[tuple[str, int], tuple[int, str]] = {}
    for i, run_dir in enumerate(run_dirs):
        run = _read_run(Path(run_dir))
        runs.append(run)
        path = run.path / "records.jsonl"
        records = read_records(path)
        for number, record in enumerate(records, start=1):
            _check_record(record, path, number)
        latest = latest_by_cell(records)
        for key, fingerprint in _split_fingerprints(run, latest.values()):
            owner, known = splits.setdefault(key, (i, fingerprint))
            if known != fingerprint:
                names = (f"run {run.path}" if owner == i
                         else f"runs {runs[owner].path} and {run.path}")
                raise HybenchError(
                    f"{names} used different splits for {key[0]} seed {key[1]}",
                    "re-run with the same seed/split options",
                )
        for cid, record in latest.items():
            previous = chosen.get(cid)
            if previous is None or (record.get("finished_at") or "") >= (
                previous.get("finished_at") or ""
            ):
                chosen[cid], run_index[cid] = record, i
    return RunSet(runs, list(chosen.values()), run_index)


def _read_run(run_dir: Path) -> Run:
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise HybenchError(f"{run_dir} is not a run directory (no run.json)",
                           "pass a directory made by hybench run")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HybenchError(f"{meta_path} is not valid JSON ({exc.msg})",
                           "restore the file") from exc
    return Run(run_dir, meta)


def _check_record(record: dict, path: Path, number: int) -> None:
    where = f"{path} record {number}"
    if not isinstance(record, dict):
        raise HybenchError(f"{where} is not a JSON object", "restore the file or delete that line")
    missing = [k for k in REQUIRED if k not in record]
    if record.get("status") == "ok":
        missing += [k for k in REQUIRED_OK if record.get(k) is None]
    if missing:
        raise HybenchError(f"{where} lacks {', '.join(missing)}", "re-run that cell with --resume")
    if record["schema"] != SCHEMA_VERSION:
        raise HybenchError(
            f"{where} has schema {record['schema']}, this hybench reads schema {SCHEMA_VERSION}",
            "render it with the hybench version that wrote it",
        )
    if record["status"] == "ok" and len(record["test_labels"]) != len(record["test_scores"]):
        raise HybenchError(
            f"{where}: {len(record['test_labels'])} test labels but "
            f"{len(record['test_scores'])} score rows",
            "re-run that cell",
        )


def _split_fingerprints(run: Run, records: Iterable[dict]) -> Iterable[tuple[tuple[str, int], str]]:
    for name, info in (run.meta.get("datasets") or {}).items():
        for seed, fingerprint in (info.get("split_fingerprints") or {}).items():
            yield (name, int(seed)), fingerprint
    for record in records:
        if record["split_fingerprint"]:
            yield (record["dataset"], int(record["seed"])), record["split_fingerprint"]


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


# ------------------------------------------------------------------------- document structure


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Notes:
    lines: list[str]


Block = Heading | Table | Notes


def fmt_number(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def fmt_seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def fmt_count(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def fmt_metric(row: pd.Series | dict, metric: str) -> str:
    """``mean ± std [low, high]`` (± only with several seeds)."""
    value = row[metric]
    if not math.isfinite(value):
        return "–"
    text = fmt_number(value)
    if math.isfinite(row[f"{metric}_std"]):
        text += f" ± {row[f'{metric}_std']:.3f}"
    if math.isfinite(row[f"{metric}_ci_low"]):
        text += f" [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"
    return text


def display_model(row: pd.Series | dict) -> str:
    """Model name, flagged when a backbone ran with random weights."""
    return row["model"] + (RANDOM_WEIGHTS_FLAG if row.get("weights") == "none" else "")


def first_line(text: str, limit: int = 160) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


# ------------------------------------------------------------------------------------ writers


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Notes):
            out.append("\n".join(f"{line}  " for line in block.lines).rstrip() + "\n")
        else:
            lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |",
                     "|" + "|".join("---" for _ in block.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _html_cell(text: str) -> str:
    """Escaped cell text; a trailing ``[low, high]`` interval goes on a second, smaller line."""
    value, sep, interval = str(text).rpartition(" [")
    if sep and value and interval.endswith("]"):
        return f"{html.escape(value)}<br><small>[{html.escape(interval)}</small>"
    return html.escape(str(text))


def to_html_fragment(blocks: Sequence[Block]) -> str:
    """Blocks as HTML elements (escaped), for pages and the report."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Notes):
            out.append("<p class='notes'>" + "<br>".join(html.escape(x) for x in block.lines)
                       + "</p>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>"
                           for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "\n".join(out)


PAGE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.82em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;
white-space:nowrap} th{background:#f2f2f2} small{color:#666} tr:nth-child(even){background:#fafafa}
.notes{color:#555;font-size:.85em;max-width:70em}
figure{display:inline-block;vertical-align:top;margin:.5em 1em 1em 0;max-width:100%}
img{max-width:100%} figcaption{color:#555;font-size:.85em;max-width:40em}
pre{font-size:.8em;background:#f7f7f7;padding:.5em}
"""


def html_page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "–": "--", "−": "-", "≥": r"$\geq$", "…": r"\dots{}",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(blocks: Sequence[Block]) -> str:
    commands = {1: "section*", 2: "subsection*", 3: "subsubsection*"}
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"\\{commands[block.level]}{{{_latex(block.text)}}}")
        elif isinstance(block, Notes):
            out.append("\\par " + r" \\ ".join(_latex(x) for x in block.lines) + "\n")
        else:
            lines = [f"\\begin{{tabular}}{{{'l' * len(block.headers)}}}", r"\hline",
                     " & ".join(_latex(h) for h in block.headers) + r" \\", r"\hline"]
            lines += [" & ".join(_latex(c) for c in row) + r" \\" for row in block.rows]
            lines += [r"\hline", r"\end{tabular}"]
            out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _frame_records(frame: pd.DataFrame) -> list[dict]:
    return _json_safe(frame.astype(object).to_dict(orient="records"))


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
            "leaderboard": _frame_records(leaderboard_table(runs, sort_by=sort_by,
                                                            decision=decision)),
            "per_class": _frame_records(per_class_table(runs, sort_by=sort_by,
                                                        decision=decision)),
            "paired": _frame_records(paired_table(runs, metric=paired_metric,
                                                  decision=decision)),
            "not_run": _frame_records(not_run_table(runs)),
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
