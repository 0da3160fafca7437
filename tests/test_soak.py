"""Soak: 200 near-empty cells at --jobs 2 under random SIGKILLs of cell processes and one SIGKILL of
the driver, then --resume. Every cell ends with exactly one ok record, no line is torn, no process
outlives its driver, and it all finishes in bounded time."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hybench.results.records import latest_by_cell, read_records
from tests.test_reliability import hybench_processes, marked_env, wait_until

PLUGIN = str(Path(__file__).with_name("soak_entries.py"))
SEEDS = 50  # x 4 entries = 200 cells
KILLED_CELLS = 8


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def forkserver_of(driver: int) -> int | None:
    for pid in children_of(driver):
        try:
            if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_soak_kills_and_resume_leave_every_cell_recorded_once(tmp_path):
    data = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (60, 8, 8), dtype=np.uint8),
             labels=np.arange(60) % 2)
    out, marker = tmp_path / "run", f"soak-{os.getpid()}-{time.monotonic_ns()}"
    records = out / "records.jsonl"
    cmd = [sys.executable, "-m", "hybench.cli", "run", "--dataset", str(data), "--plugins",
           PLUGIN, "--models", "soak-*", "--seeds", f"0-{SEEDS - 1}", "--jobs", "2",
           "--timeout", "60", "--quiet", "--out", str(out)]
    started = time.monotonic()
    driver = subprocess.Popen(cmd, env=marked_env(marker), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    chooser, killed = random.Random(0), 0
    try:
        assert wait_until(lambda: line_count(records) >= 5, 120)
        forkserver = forkserver_of(driver.pid)
        assert forkserver is not None
        while killed < KILLED_CELLS and driver.poll() is None:
            cells = children_of(forkserver)
            if cells:
                os.kill(chooser.choice(cells), signal.SIGKILL)
                killed += 1
            time.sleep(chooser.uniform(0.05, 0.3))
        assert wait_until(lambda: line_count(records) >= 100 or driver.poll() is not None, 300)
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
        assert wait_until(lambda: not hybench_processes(marker), 15), "orphans outlived the driver"
        first_lines = line_count(records)
        resumed = time.monotonic()
        finished = subprocess.run([*cmd, "--resume"], env=marked_env(marker), timeout=600,
                                  capture_output=True, text=True)
        resume_seconds = time.monotonic() - resumed
    finally:
        driver.kill()
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert wait_until(lambda: not hybench_processes(marker), 15), "processes outlived the resume"
    raw = records.read_bytes()
    assert raw.endswith(b"\n")
    lines = [json.loads(line) for line in raw.splitlines()]  # no torn line anywhere
    all_records = read_records(records)
    assert len(all_records) == len(lines)
    ok = [r for r in all_records if r["status"] == "ok"]
    assert len(ok) == 200 and len({r["cell_id"] for r in ok}) == 200  # each cell once
    latest = latest_by_cell(all_records)
    assert len(latest) == 200 and all(r["status"] == "ok" for r in latest.values())
    killed_records = [r for r in all_records if "killed by signal 9" in (r["reason"] or "")]
    assert 1 <= len(killed_records) <= killed
    new_cells = len(lines) - first_lines
    print(f"\nsoak: {killed} cells killed, driver killed after {first_lines} records; resume ran "
          f"{new_cells} cells in {resume_seconds:.1f} s ({new_cells / resume_seconds:.1f} cells/s);"
          f" total {time.monotonic() - started:.1f} s")
