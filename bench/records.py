"""Append-only JSONL records: one immutable JSON object per finished cell.

Each record is written with a single ``write`` on an ``O_APPEND`` descriptor and fsynced, so a
crash or ``kill -9`` leaves either the whole line or nothing. A later record for the same
``cell_id`` supersedes an earlier one (a resumed cell after an error or timeout).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from bench.errors import HybenchError

SCHEMA_VERSION = 1
FINISHED = ("ok", "not_applicable", "skipped")
STATUSES = ("ok", "error", "timeout", "not_applicable", "skipped")


def cell_id(dataset: str, model: str, imbalance: str, seed: int) -> str:
    return f"{dataset}|{model}|{imbalance}|seed{seed}"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def append_record(path: Path, record: dict) -> None:
    """Append one record as a single atomic line."""
    line = (json.dumps(_jsonable(record), sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> list[dict]:
    """All records in file order; a malformed line is a one-line error naming file and line."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise HybenchError(
                    f"{path}:{number} is not a valid JSON record ({exc.msg})",
                    "restore the file or delete that line",
                ) from exc
    return records


def latest_by_cell(records: list[dict]) -> dict[str, dict]:
    """The newest record of each cell."""
    latest: dict[str, dict] = {}
    for record in records:
        latest[record["cell_id"]] = record
    return latest


def write_json_atomic(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(_jsonable(payload), indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    if not path.parent.exists():
        raise HybenchError(f"output folder {path.parent} does not exist", "create it first")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise HybenchError(
            f"cannot write {path}: {exc.strerror}", "choose a writable path"
        ) from exc
    os.replace(tmp, path)
