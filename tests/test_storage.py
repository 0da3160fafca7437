"""The one atomic-write helper and the one cache root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybench.errors import HybenchError
from hybench.storage import cache_root, save_npy_atomic, write_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "leaderboard.md"
    target.write_text("old")

    def half_then_fail(handle):
        handle.write(b"new but unfinished")
        raise RuntimeError("crashed mid-write")

    with pytest.raises(RuntimeError, match="mid-write"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]


def test_an_os_error_is_one_line_and_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "report.html"
    folder.mkdir()
    with pytest.raises(HybenchError, match=r"cannot write .*report.html: it is a directory"):
        write_text_atomic(folder, "<html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(HybenchError, match=r"cannot write /proc/report.html: .*writable path"):
        write_text_atomic(Path("/proc/report.html"), "<html>")  # /proc takes no new files
    with pytest.raises(HybenchError, match="output folder .* does not exist"):
        write_text_atomic(tmp_path / "missing" / "x.md", "x")


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "run.json", "{}")
    finally:
        os.umask(umask)
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o644


def test_arrays_and_text_round_trip(tmp_path):
    save_npy_atomic(tmp_path / "deep" / "a.npy", np.arange(5))
    np.testing.assert_array_equal(np.load(tmp_path / "deep" / "a.npy"), np.arange(5))
    write_text_atomic(tmp_path / "t.txt", "é\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é\n"


def test_cache_root_flag_beats_env_beats_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBENCH_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root(tmp_path / "flag") == tmp_path / "flag"
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("HYBENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_root() == tmp_path / ".cache" / "hybench"
