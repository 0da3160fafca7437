"""Append-only records: whole lines only, clear errors on corruption, latest record wins."""

import json

import numpy as np
import pytest

from hybench.errors import HybenchError
from hybench.results.records import SCHEMA_VERSION, append_record, latest_by_cell, read_records


def record(cell_id: str, status: str = "error", **extra) -> dict:
    """A minimal valid record (not ok, so no scores are required)."""
    return {"schema": SCHEMA_VERSION, "cell_id": cell_id, "dataset": "d", "model": "m",
            "imbalance": "none", "seed": 0, "status": status, "split_fingerprint": "f", **extra}


def test_append_and_read_back_numpy_values(tmp_path):
    path = tmp_path / "records.jsonl"
    append_record(path, record("a", x=np.float32(0.5), v=np.arange(3), nan=float("nan")))
    append_record(path, record("b", x=1))
    records = read_records(path)
    assert [r["cell_id"] for r in records] == ["a", "b"]
    assert records[0]["v"] == [0, 1, 2] and records[0]["nan"] is None
    assert all(line.endswith("}") for line in path.read_text().splitlines())


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "records.jsonl"
    append_record(path, record("a"))
    with path.open("a") as fh:
        fh.write('{"cell_id": "b", "trunc\n')
    with pytest.raises(HybenchError, match=r"records.jsonl:2"):
        read_records(path)


def test_latest_record_of_a_cell_wins(tmp_path):
    path = tmp_path / "records.jsonl"
    for status in ("error", "skipped"):
        append_record(path, record("a", status))
    assert latest_by_cell(read_records(path))["a"]["status"] == "skipped"
    assert json.loads(path.read_text().splitlines()[0])["status"] == "error"
