"""Run directories: read ``run.json`` and ``records.jsonl``, validate records and merge runs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import HybenchError
from bench.records import SCHEMA_VERSION, latest_by_cell, read_records

REQUIRED = ("schema", "cell_id", "dataset", "model", "imbalance", "seed", "status",
            "split_fingerprint")
REQUIRED_OK = ("class_names", "test_labels", "test_scores", "per_class", "confusion_matrix")


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
