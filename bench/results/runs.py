"""Stored runs for reading: load run directories, validate their records and merge them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hybench.errors import HybenchError
from hybench.results.cell_stats import CellStatsCache
from hybench.results.records import latest_by_cell
from hybench.results.run_dir import RunDirectory

ENTRY = ("dataset", "model", "imbalance")  # the key of a leaderboard entry (seeds aggregated)
EXPERIMENT = ("features", "feature_params", "model_options")  # equal over an entry's seeds


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
    stats: CellStatsCache = field(default_factory=CellStatsCache, repr=False)

    def run_of(self, record: dict) -> Run:
        return self.runs[self.run_index[record["cell_id"]]]

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "ok"]

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r["dataset"] for r in self.records))

    @cached_property
    def entries(self) -> dict[tuple[str, str, str], list[dict]]:
        """Ok records grouped by (dataset, model, imbalance), seeds ascending (grouped once)."""
        groups: dict[tuple[str, str, str], list[dict]] = {}
        for record in sorted(self.ok, key=lambda r: int(r["seed"])):
            groups.setdefault(tuple(record[k] for k in ENTRY), []).append(record)
        return groups


def load_runs(run_dirs: Sequence[Path]) -> RunSet:
    """Read and merge run directories; a later-finished record of a cell supersedes an earlier one.

    Refused with a one-line error: runs that split the same (dataset, seed) differently (their
    test rows differ), the same dataset name over different data, and seeds of one entry that
    differ in anything that changes results (see :func:`check_same_experiment`).
    """
    if not run_dirs:
        raise HybenchError("no run directory given", "pass at least one run directory")
    runs: list[Run] = []
    chosen: dict[str, dict] = {}
    run_index: dict[str, int] = {}
    splits: dict[tuple[str, int], tuple[int, str]] = {}
    for i, run_dir in enumerate(run_dirs):
        directory = RunDirectory(run_dir)
        run = Run(directory.path, directory.read_meta())
        runs.append(run)
        records = directory.records()
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
    result = RunSet(runs, list(chosen.values()), run_index)
    check_same_experiment(result)
    return result


def check_same_experiment(runs: RunSet) -> None:
    """One-line error when records that will be ranked or averaged together came from different
    experiments: one dataset name over different data (pixels, labels, class names, image size,
    channels), or seeds of one entry with different features, feature parameters or model
    options (profile budgets included)."""
    data: dict[str, dict] = {}
    for record in runs.ok:
        first = data.setdefault(record["dataset"], record)
        if first["dataset_fingerprint"] != record["dataset_fingerprint"]:
            raise HybenchError(
                f"{_where(runs, first)} and {_where(runs, record)} hold different data under the "
                f"name {record['dataset']} (fingerprints {first['dataset_fingerprint']} and "
                f"{record['dataset_fingerprint']})",
                "render them separately, or re-run one with the same data and image options",
            )
    for records in runs.entries.values():
        first = records[0]
        for record in records[1:]:
            differing = [k for k in EXPERIMENT if first.get(k) != record.get(k)]
            if differing:
                key = differing[0]
                raise HybenchError(
                    f"{_where(runs, first)} and {_where(runs, record)} differ in {key} "
                    f"({first.get(key)} vs {record.get(key)})",
                    "render them separately, or re-run one with the same options",
                )


def _where(runs: RunSet, record: dict) -> str:
    return f"{record['cell_id']} (run {runs.run_of(record).path})"


def _split_fingerprints(run: Run, records: Iterable[dict]) -> Iterable[tuple[tuple[str, int], str]]:
    for name, info in (run.meta.get("datasets") or {}).items():
        for seed, fingerprint in (info.get("split_fingerprints") or {}).items():
            yield (name, int(seed)), fingerprint
    for record in records:
        if record["split_fingerprint"]:
            yield (record["dataset"], int(record["seed"])), record["split_fingerprint"]
