"""Regression gate: compare a new run with a baseline, cell by cell, from stored records only.

A cell regresses when its metric falls below the baseline by more than the tolerance *and*
outside the baseline's bootstrap CI, when it was ok and now errors or times out, or when its
inference throughput or fit speed drops by more than the speed tolerance. Speeds are compared
as ratios normalised by each run's reference workload seconds, so a slower machine alone does
not fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from hybench.errors import HybenchError
from hybench.report.blocks import Table, first_line, fmt_number
from hybench.report.document import LABELS
from hybench.report.formats import to_markdown
from hybench.report.leaderboard import check_choice
from hybench.results.cell_stats import CELL_METRICS
from hybench.results.runs import EXPERIMENT, RunSet

FAILED_STATUSES = ("error", "timeout")
MIN_FIT_SECONDS = 0.5  # fits shorter than this in both runs are timer noise, not compared


@dataclass
class CompareResult:
    """Per-cell comparison rows, the verdict and why."""

    table: pd.DataFrame
    failed: bool
    reasons: list[str]
    notes: list[str] = field(default_factory=list)
    metric: str = "macro_f1"
    metric_tolerance: float = 0.02
    speed_tolerance: float = 0.30
    min_fit_seconds: float = MIN_FIT_SECONDS


def _by_cell(runs: RunSet) -> dict[str, dict]:
    return {r["cell_id"]: r for r in runs.records}


def _normalised_speeds(runs: RunSet, record: dict) -> tuple[float, float, bool]:
    """(throughput × reference s, fit s / reference s, normalised?) of an ok record."""
    reference = runs.run_of(record).reference_seconds
    scale = reference or 1.0
    ips = (record.get("inference") or {}).get("images_per_second") or math.nan
    fit = record.get("fit_seconds")
    return ips * scale, (fit if fit is not None else math.nan) / scale, reference is not None


def _ratio(new: float, old: float) -> float:
    if not (math.isfinite(new) and math.isfinite(old)) or old <= 0 or new <= 0:
        return math.nan
    return new / old


def compare_runs(
    baseline: RunSet,
    new: RunSet,
    *,
    metric: str = "macro_f1",
    metric_tolerance: float = 0.02,
    speed_tolerance: float = 0.30,
    min_fit_seconds: float = MIN_FIT_SECONDS,
) -> CompareResult:
    """Compare every cell present in both runs; cells present in one run only are listed."""
    check_choice(metric, CELL_METRICS, "compare metric")
    if metric_tolerance < 0 or not 0 <= speed_tolerance < 1:
        raise HybenchError(
            f"tolerances must be >= 0 (speed below 1), got metric {metric_tolerance} and "
            f"speed {speed_tolerance}",
            "pass e.g. --metric-tolerance 0.02 --speed-tolerance 0.30",
        )
    old_cells, new_cells = _by_cell(baseline), _by_cell(new)
    rows, reasons, notes = [], [], []
    unnormalised = False
    for cid in (c for c in old_cells if c in new_cells):
        old, now = old_cells[cid], new_cells[cid]
        if old["status"] == now["status"] == "ok":
            _check_same_experiment(old, now)
        row = {"cell_id": cid, "status": f"{old['status']} → {now['status']}",
               "baseline": math.nan, "ci_low": math.nan, "ci_high": math.nan, "new": math.nan,
               "delta": math.nan, "throughput_ratio": math.nan, "fit_speed_ratio": math.nan,
               "verdict": "pass"}
        problems = []
        if old["status"] == "ok" and now["status"] in FAILED_STATUSES:
            problems.append(f"was ok, now {now['status']}: {first_line(now.get('reason'))}")
        elif old["status"] != now["status"]:
            notes.append(f"{cid}: status {old['status']} → {now['status']} (not a failure)")
        if old["status"] == now["status"] == "ok":
            found, normalised = _compare_ok_cell(
                baseline, new, old, now, row, metric=metric, metric_tolerance=metric_tolerance,
                speed_tolerance=speed_tolerance, min_fit_seconds=min_fit_seconds)
            problems += found
            unnormalised |= not normalised
        if problems:
            row["verdict"] = "REGRESSED"
            reasons += [f"{cid}: {p}" for p in problems]
        rows.append(row)
    only_old = sorted(set(old_cells) - set(new_cells))
    only_new = sorted(set(new_cells) - set(old_cells))
    if only_old:
        notes.append(f"only in the baseline (listed, not failed): {', '.join(only_old)}")
    if only_new:
        notes.append(f"only in the new run (listed, not failed): {', '.join(only_new)}")
    if unnormalised:
        notes.append("a run has no reference workload time: speeds compared unnormalised")
    return CompareResult(pd.DataFrame(rows, columns=list(_COLUMNS)), bool(reasons), reasons,
                         notes, metric, metric_tolerance, speed_tolerance, min_fit_seconds)


def _check_same_experiment(old: dict, now: dict) -> None:
    """A cell is only compared with the same experiment: same data, split and options."""
    if old["split_fingerprint"] != now["split_fingerprint"]:
        raise HybenchError(
            f"baseline and new run used different splits for {old['dataset']} "
            f"seed {old['seed']}",
            "re-run with the same seed/split options",
        )
    for key in ("dataset_fingerprint", *EXPERIMENT):
        if old.get(key) != now.get(key):
            raise HybenchError(
                f"{old['cell_id']}: baseline and new run differ in {key} "
                f"({old.get(key)} vs {now.get(key)})",
                "re-run the new run with the baseline's data and options",
            )


def _compare_ok_cell(
    baseline: RunSet, new: RunSet, old: dict, now: dict, row: dict, *, metric: str,
    metric_tolerance: float, speed_tolerance: float, min_fit_seconds: float,
) -> tuple[list[str], bool]:
    """Fill ``row`` for a cell ok in both runs; its problems, and whether both speeds were
    normalised by a reference workload."""
    problems = []
    base = baseline.stats.get(old)
    value = new.stats.get(now).point[metric]
    low, high = base.interval(metric)
    row.update(baseline=base.point[metric], ci_low=low, ci_high=high, new=value,
               delta=value - base.point[metric])
    if value < base.point[metric] - metric_tolerance and value < low:
        problems.append(
            f"{metric} {value:.3f} < baseline {base.point[metric]:.3f} − "
            f"{metric_tolerance} and below its CI [{low:.3f}, {high:.3f}]"
        )
    old_ips, old_fit, old_norm = _normalised_speeds(baseline, old)
    new_ips, new_fit, new_norm = _normalised_speeds(new, now)
    row["throughput_ratio"] = _ratio(new_ips, old_ips)
    if max(old.get("fit_seconds") or 0, now.get("fit_seconds") or 0) >= min_fit_seconds:
        row["fit_speed_ratio"] = _ratio(old_fit, new_fit)
    for name in ("throughput_ratio", "fit_speed_ratio"):
        if row[name] < 1 - speed_tolerance:
            what = "throughput" if name == "throughput_ratio" else "fit speed"
            problems.append(f"normalised {what} × {row[name]:.2f} "
                            f"(allowed ≥ {1 - speed_tolerance:.2f})")
    return problems, old_norm and new_norm


_COLUMNS = ("cell_id", "status", "baseline", "ci_low", "ci_high", "new", "delta",
            "throughput_ratio", "fit_speed_ratio", "verdict")


def render_compare(result: CompareResult) -> str:
    """Markdown: verdict, reasons, the per-cell table and notes."""
    verdict = (f"FAILED ({len(result.reasons)} regression"
               f"{'s' if len(result.reasons) != 1 else ''})" if result.failed else "PASSED")
    label = LABELS[result.metric]
    lines = [
        f"# hybench compare: {verdict}", "",
        f"Fails when {label} drops by more than {result.metric_tolerance} and below the "
        f"baseline's 95% bootstrap CI, when an ok cell now errors or times out, or when the "
        f"reference-normalised throughput or fit speed drops by more than "
        f"{result.speed_tolerance:.0%}.", "",
    ]
    if result.reasons:
        lines += ["Regressions:", *(f"- {r}" for r in result.reasons), ""]
    rows = [
        [r.cell_id, r.status, fmt_number(r.baseline),
         f"[{fmt_number(r.ci_low)}, {fmt_number(r.ci_high)}]", fmt_number(r.new),
         fmt_number(r.delta) if math.isnan(r.delta) else f"{r.delta:+.3f}",
         fmt_number(r.throughput_ratio, 2), fmt_number(r.fit_speed_ratio, 2), r.verdict]
        for r in result.table.itertuples(index=False)
    ]
    headers = ["Cell", "Status", f"Baseline {label}", "Baseline 95% CI", f"New {label}", "Δ",
               "Throughput ratio", "Fit-speed ratio", "Verdict"]
    lines.append(to_markdown([Table(headers, rows)]))
    lines.append("Ratios are new / baseline after normalising by each run's reference workload "
                 f"(–: not compared; fits under {result.min_fit_seconds} s in both runs are "
                 "timer noise).")
    if result.notes:
        lines += ["", "Notes:", *(f"- {n}" for n in result.notes)]
    return "\n".join(lines) + "\n"
