"""The run directory: the one owner of a run's paths and files.

```
RUN_DIR/
  run.json        config, dataset + split fingerprints, machine, packages, git, timings
  records.jsonl   one record per finished cell (append-only)
  splits/         the split plan of each (dataset, seed)
  logs/           each cell's stdout/stderr
  leaderboard.md  leaderboard.csv
```
"""

from __future__ import annotations

import json
from pathlib import Path

from hybench.errors import HybenchError
from hybench.results.records import append_record, read_records
from hybench.storage import write_json_atomic


class RunDirectory:
    """Paths and file access for one run directory (nothing is created until written)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    @property
    def meta_path(self) -> Path:
        return self.path / "run.json"

    @property
    def records_path(self) -> Path:
        return self.path / "records.jsonl"

    @property
    def splits_dir(self) -> Path:
        return self.path / "splits"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def split_path(self, dataset: str, seed: int) -> Path:
        return self.splits_dir / f"{dataset}-seed{seed}.npz"

    def log_path(self, cell_id: str) -> Path:
        return self.logs_dir / (cell_id.replace("|", "__") + ".log")

    def leaderboard_path(self, fmt: str) -> Path:
        return self.path / f"leaderboard.{fmt}"

    def has_meta(self) -> bool:
        return self.meta_path.is_file()

    def read_meta(self) -> dict:
        """``run.json``; one-line errors when it is missing or not JSON."""
        if not self.has_meta():
            raise HybenchError(f"{self.path} is not a run directory (no run.json)",
                               "pass a directory made by hybench run")
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise HybenchError(f"{self.meta_path} is not valid JSON ({exc.msg})",
                               "restore the file") from exc
        if not isinstance(meta, dict):
            raise HybenchError(f"{self.meta_path} is not a hybench run.json", "restore the file")
        return meta

    def write_meta(self, meta: dict) -> None:
        write_json_atomic(self.meta_path, meta)

    def stored_config(self) -> dict:
        """The config saved in ``run.json`` (empty when there is no run.json yet)."""
        if not self.has_meta():
            return {}
        config = self.read_meta().get("config")
        if not isinstance(config, dict):
            raise HybenchError(f"{self.meta_path} is not a hybench run.json",
                               "pass a run directory")
        return config

    def append(self, record: dict) -> None:
        append_record(self.records_path, record)

    def records(self) -> list[dict]:
        return read_records(self.records_path)
