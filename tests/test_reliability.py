"""Nothing lost, nothing mixed: where runs land, what a resume accepts, full disks, signals,
inputs that need a note instead of a crash, and output that stays inert in other tools."""

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage import io

from hybench.cli import main
from hybench.report.blocks import Notes, Table
from hybench.report.formats import spreadsheet_safe, to_markdown
from hybench.results import records as records_module
from hybench.results.records import latest_by_cell, read_records
from tests.test_cli_run import PLUGIN, sleep_config

FAST = ["--models", "pixels-logreg", "--quiet", "--seeds", "0"]


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 12, 12), dtype=np.uint8)


def class_tree(root: Path, names=("normal", "pneumonia"), per_class=10, splits=("",)) -> Path:
    for split in splits:
        for k, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i, image in enumerate(images(per_class, seed=k)):
                io.imsave(folder / f"{i}.png", image // (k + 1), check_contrast=False)
    return root


def test_default_run_dir_goes_under_runs_and_never_inside_the_dataset(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    tree = class_tree(tmp_path / "tree")
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    assert run_cli("run", "--dataset", "../tree/", *FAST) == 0
    assert run_cli("run", "--dataset", "../tree", *FAST) == 0  # the first run did not touch it
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before
    made = sorted(p.name for p in (work / "runs").iterdir())
    assert len(made) == 2 and all(name.startswith("tree-quick-") for name in made)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree", "work"]


@pytest.mark.parametrize("layout", ["npz", "tree"])
def test_official_split_without_val_gets_one_carved_from_train(layout, tmp_path, capsys):
    labels = np.arange(80) % 2
    if layout == "npz":
        data = tmp_path / "trainonly.npz"
        np.savez(data, train_images=images(80), train_labels=labels,
                 test_images=images(20, seed=1), test_labels=labels[:20])
    else:
        data = class_tree(tmp_path / "trainonly", per_class=20, splits=("train", "test"))
    out = tmp_path / "run"
    assert run_cli("run", "--dataset", data, "--models", "pixels-logreg", "--seeds", "0,1",
                   "--val-fraction", "0.25", "--out", out) == 0
    assert "no validation part" in capsys.readouterr().out
    meta = json.loads((out / "run.json").read_text())
    info = meta["datasets"]["trainonly"]
    assert meta["config"]["val_fraction"] == 0.25
    assert any("0.25 of each class's training images" in note for note in meta["notes"])
    assert info["split_kind"] == {"0": "official-val-from-train", "1": "official-val-from-train"}
    assert info["split_fingerprints"]["0"] == info["split_fingerprints"]["1"]
    splits = [np.load(out / "splits" / f"trainonly-seed{s}.npz") for s in (0, 1)]
    n_train = 80 if layout == "npz" else 40
    train, val = splits[0]["train"], splits[0]["val"]
    assert set(train) | set(val) == set(range(n_train)) and not set(train) & set(val)
    assert len(val) == n_train // 4 and np.array_equal(splits[1]["val"], val)
    assert all(r["status"] == "ok" for r in read_records(out / "records.jsonl"))


def test_npz_labels_with_gaps_are_recoded_with_a_note(tmp_path, capsys):
    data = tmp_path / "gaps.npz"
    np.savez(data, images=images(60), labels=(np.arange(60) % 2) * 2)  # classes 0 and 2
    out = tmp_path / "run"
    assert run_cli("run", "--dataset", data, *FAST, "--out", out) == 0
    (record,) = read_records(out / "records.jsonl")
    assert record["status"] == "ok" and record["class_names"] == ["0", "2"]
    meta = json.loads((out / "run.json").read_text())
    assert meta["datasets"]["gaps"]["class_counts"] == [30, 30]
    assert any("re-coded" in note for note in meta["notes"])


def test_a_dataset_path_with_a_comma_is_taken_whole(tmp_path):
    data = tmp_path / "scan,2024.npz"
    np.savez(data, images=images(60), labels=np.arange(60) % 2)
    assert run_cli("run", "--dataset", data, *FAST, "--out", tmp_path / "run") == 0
    assert read_records(tmp_path / "run" / "records.jsonl")[0]["dataset"] == "scan,2024"


def test_class_names_that_look_like_mathtext_render_as_text(tmp_path):
    odd = ("$\\undefinedcommand{x}$", "a_$b^c$")
    tree = class_tree(tmp_path / "odd", names=odd, per_class=12)
    out = tmp_path / "run"
    assert run_cli("run", "--dataset", tree, *FAST, "--out", out) == 0
    assert run_cli("report", out, "-o", tmp_path / "report.html") == 0
    page = (tmp_path / "report.html").read_text()
    assert "$\\undefinedcommand{x}$" in page and "alt='confusion figure for odd'" in page


def test_csv_and_markdown_outputs_stay_inert():
    frame = pd.DataFrame({"model": ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "+1", "ok-name"],
                          "delta": [-0.5, 0.1, 0.2, 0.3]})
    safe = spreadsheet_safe(frame)
    assert safe["model"].tolist() == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+1", "ok-name"]
    assert safe["delta"].tolist() == [-0.5, 0.1, 0.2, 0.3]  # numbers stay numbers
    text = to_markdown([Table(["class"], [["<img src=x onerror=alert(1)>"]]),
                        Notes(["p < 0.05 <!-- hidden -->"])])
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)>" in text
    assert "p < 0.05 &lt;!-- hidden -->" in text


def test_a_dataset_named_like_a_formula_is_neutralised_in_leaderboard_csv(tmp_path):
    data = tmp_path / "=1+1.npz"
    np.savez(data, images=images(60), labels=np.arange(60) % 2)
    assert run_cli("run", "--dataset", data, *FAST, "--out", tmp_path / "run") == 0
    with (tmp_path / "run" / "leaderboard.csv").open(newline="") as fh:
        fields = [field for row in csv.reader(fh) for field in row]
    assert "'=1+1" in fields and not any(field.startswith("=") for field in fields)


def test_disk_full_keeps_whole_records_and_resume_finishes(tmp_path, monkeypatch, capsys):
    """The third record's write is cut short, then the disk is full: the file is truncated back
    to two whole lines, the run stops with one line, and --resume completes the matrix."""
    real_write, appended = os.write, []

    def full_after_two(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("records.jsonl"):
            return real_write(fd, data)
        appended.append(fd)
        if len(appended) <= 2:
            return real_write(fd, data)
        if len(appended) == 3:
            return real_write(fd, bytes(data)[: len(data) // 2])  # a short write
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "run"
    args = ["run", "--dataset", "synthetic-cxr", "--models", "pixels-logreg", "hog-logreg",
            "--seeds", "0,1", "--jobs", "1", "--quiet", "--out", out]
    monkeypatch.setattr(records_module.os, "write", full_after_two)
    assert run_cli(*args) == 2
    monkeypatch.setattr(records_module.os, "write", real_write)
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybench: error: disk full writing") and "--resume" in err
    assert "\n" not in err
    text = (out / "records.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 2
    assert run_cli(*args, "--resume") == 0
    done = latest_by_cell(read_records(out / "records.jsonl"))
    assert len(done) == 4 and all(r["status"] == "ok" for r in done.values())


def test_resume_refuses_another_dataset_and_keeps_the_first_provenance(small_run_dir, tmp_path,
                                                                       capsys):
    out = tmp_path / "run"
    shutil.copytree(small_run_dir, out)
    other = tmp_path / "other.npz"
    np.savez(other, images=images(60), labels=np.arange(60) % 2)
    assert run_cli("run", "--resume", "--out", out, "--dataset", other, "--quiet") == 2
    err = capsys.readouterr().err
    assert "its datasets were ['synthetic-cxr'], now ['other']" in err
    first = json.loads((out / "run.json").read_text())
    first["machine"]["hostname"] = "first-machine"  # as if the run began elsewhere
    (out / "run.json").write_text(json.dumps(first))
    config = tmp_path / "more.toml"
    config.write_text((small_run_dir.parent / "matrix.toml").read_text().replace(
        "seeds = [0, 1]", "seeds = [0, 1, 2]"))
    assert run_cli("run", "--resume", "--out", out, "--config", config, "--quiet") == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["machine"]["hostname"] == "first-machine"
    assert meta["created_at"] == first["created_at"]
    assert [s["cells"] for s in meta["sessions"]] == [12, 6]
    assert set(meta["datasets"]["synthetic-cxr"]["split_fingerprints"]) == {"0", "1", "2"}


def hybench_processes(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (the driver's descendants)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def marked_env(marker: str) -> dict:
    return {**os.environ, "HYBENCH_TEST_MARKER": marker}


def test_sigterm_stops_cells_keeps_records_and_exits_143(tmp_path):
    out, marker = tmp_path / "run", f"sigterm-{os.getpid()}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "hybench.cli", "run", "--dataset", "synthetic-cxr", "--seeds",
           "0", "--plugins", PLUGIN, "--models", "pixels-logreg", "test-sleepy", "--jobs", "1",
           "--config", str(sleep_config(tmp_path / "slow.toml", 600)), "--out", str(out),
           "--quiet"]
    proc = subprocess.Popen(cmd, env=marked_env(marker), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        records = out / "records.jsonl"
        sleepy_log = out / "logs" / "synthetic-cxr__test-sleepy__none__seed0.log"
        assert wait_until(lambda: records.exists() and sleepy_log.exists(), 120)
        time.sleep(1)  # the sleepy cell is asleep in fit
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err.strip().splitlines()[-1].startswith("hybench: terminated (SIGTERM)")
    assert "Traceback" not in err
    assert [r["model"] for r in read_records(out / "records.jsonl")] == ["pixels-logreg"]
    assert wait_until(lambda: not hybench_processes(marker), 10), "processes outlived the run"


def test_cells_of_a_killed_driver_do_not_outlive_it(tmp_path):
    """kill -9 gives the driver no chance to stop its cells: they notice it is gone and exit."""
    out, marker = tmp_path / "run", f"orphan-{os.getpid()}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "hybench.cli", "run", "--dataset", "synthetic-cxr", "--seeds",
           "0", "--plugins", PLUGIN, "--models", "test-sleepy", "--quiet", "--out", str(out),
           "--config", str(sleep_config(tmp_path / "slow.toml", 600))]
    proc = subprocess.Popen(cmd, env=marked_env(marker), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        log = out / "logs" / "synthetic-cxr__test-sleepy__none__seed0.log"
        assert wait_until(log.exists, 120)
        time.sleep(1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_until(lambda: not hybench_processes(marker), 10), "a cell outlived its driver"
    finally:
        proc.kill()
