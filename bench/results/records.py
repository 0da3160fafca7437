"""Append-only JSONL records: one immutable JSON object per finished cell.

Each record is appended to an ``O_APPEND`` descriptor and fsynced. A regular file takes the whole
line in one ``write``, so a crash or ``kill -9`` leaves the whole line or nothing; a short write is
continued, and a failed one (a full disk) truncates the file back to where the line began. A later
record for the same ``cell_id`` supersedes an earlier one (a resumed cell after an error or
timeout).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from hybench.errors import HybenchError
from hybench.storage import jsonable

SCHEMA_VERSION = 2  # 2: validation scores, class counts and model options in every record
FINISHED = ("ok", "not_applicable", "skipped")
DECISIONS = ("argmax", "val-threshold")
REQUIRED = ("schema", "cell_id", "dataset", "model", "imbalance", "seed", "status",
            "split_fingerprint")
REQUIRED_OK = ("class_names", "val_labels", "val_scores", "test_labels", "test_scores",
               "per_class", "confusion_matrix")


def cell_id(dataset: str, model: str, imbalance: str, seed: int) -> str:
    return f"{dataset}|{model}|{imbalance}|seed{seed}"


def append_record(path: Path, record: dict) -> None:
    """Append one record as a whole line, or leave the file as it was and raise a one-line error."""
    line = memoryview((json.dumps(jsonable(record), sort_keys=True) + "\n").encode())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _append_error(path, exc) from exc
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            while line:
                line = line[os.write(fd, line):]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, start)
            raise _append_error(path, exc) from exc
        except BaseException:  # a signal between two writes: never leave half a line
            if line:
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _append_error(path: Path, exc: OSError) -> HybenchError:
    problem = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
    return HybenchError(f"{problem} writing {path}; finished cells are kept",
                        "free space or fix the folder, then rerun with --resume")


def read_records(path: Path) -> list[dict]:
    """All records in file order, each checked by :func:`check_record`; a malformed or unusable
    line is a one-line error naming file and line."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HybenchError(
                    f"{path}:{number} is not a valid JSON record ({exc.msg})",
                    "restore the file or delete that line",
                ) from exc
            check_record(record, f"{path}:{number}")
            records.append(record)
    return records


def check_record(record: dict, where: str) -> None:
    """One-line error when ``record`` (described by ``where``) is not a usable hybench record."""
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
            "re-run it with this hybench, or render it with the version that wrote it",
        )
    if record["status"] != "ok":
        return
    for split in ("val", "test"):
        labels, scores = record[f"{split}_labels"], record[f"{split}_scores"]
        if len(labels) != len(scores):
            raise HybenchError(
                f"{where}: {len(labels)} {split} labels but {len(scores)} score rows",
                "re-run that cell",
            )


def latest_by_cell(records: list[dict]) -> dict[str, dict]:
    """The newest record of each cell."""
    latest: dict[str, dict] = {}
    for record in records:
        latest[record["cell_id"]] = record
    return latest


def decision_part(record: dict, decision: str) -> dict:
    """The part of an ok record holding ``metrics`` / ``per_class`` / ``confusion_matrix`` for
    ``decision``: the stored validation-threshold block where asked for and present, else the
    argmax fields of the record itself."""
    if decision == "val-threshold" and record.get("threshold"):
        return record["threshold"]
    return record
