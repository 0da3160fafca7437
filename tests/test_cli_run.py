"""`hybench run` end to end on synthetic data: run dir, records, resume, isolation, determinism."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hybench.cli import main
from hybench.results.records import latest_by_cell, read_records
from tests.conftest import requires_pneumonia

PLUGIN = str(Path(__file__).with_name("plugin_entries.py"))
RECORD_KEYS = {
    "model",
    "family",
    "features",
    "imbalance",
    "seed",
    "dataset",
    "split_fingerprint",
    "status",
    "metrics",
    "per_class",
    "confusion_matrix",
    "fit_seconds",
    "feature_seconds",
    "inference",
    "test_scores",
    "test_labels",
}
SMALL = ["--dataset", "synthetic-cxr", "--quiet", "--seeds", "0"]


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def test_small_run_dir_has_every_artifact(small_run_dir):
    run = json.loads((small_run_dir / "run.json").read_text())
    for key in ("config", "datasets", "machine", "packages", "git", "reference_workload"):
        assert key in run
    info = run["datasets"]["synthetic-cxr"]
    assert info["class_names"] == ["healthy", "diffuse-opacity", "focal-mass"]
    records = read_records(small_run_dir / "records.jsonl")
    assert len(records) == 12 and len(latest_by_cell(records)) == 12
    by_status = {}
    for r in records:
        assert set(r) >= RECORD_KEYS
        assert r["split_fingerprint"] == info["split_fingerprints"][str(r["seed"])]
        by_status.setdefault(r["status"], []).append(r)
    assert {(r["model"], r["imbalance"]) for r in by_status["not_applicable"]} == {
        ("hog-knn", "class-weight")
    }
    assert len(by_status["ok"]) == 10
    for r in by_status["ok"]:
        scores = np.array(r["test_scores"])
        assert scores.shape == (len(r["test_labels"]), 3)
        np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-4)
        assert r["inference"]["images_per_second"] > 0
        assert r["inference"]["latency_ms_p95"] >= r["inference"]["latency_ms_p50"] > 0
        assert len(r["per_class"]) == 3 and r["n_parameters"] > 0
    assert len(list((small_run_dir / "logs").iterdir())) == 10  # one per cell that ran
    assert (small_run_dir / "leaderboard.md").exists()
    assert (small_run_dir / "leaderboard.csv").exists()
    assert sorted(p.name for p in (small_run_dir / "splits").iterdir()) == [
        "synthetic-cxr-seed0.npz",
        "synthetic-cxr-seed1.npz",
    ]


def test_leaderboard_rerenders_without_training(small_run_dir, tmp_path, capsys):
    assert run_cli("leaderboard", small_run_dir, "--format", "csv", "-o", tmp_path / "b.csv") == 0
    assert "hog-logreg" in (tmp_path / "b.csv").read_text()
    assert run_cli("leaderboard", small_run_dir) == 0
    assert "pixels-logreg" in capsys.readouterr().out


def test_resume_runs_only_missing_cells(small_run_dir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(small_run_dir, run_dir)
    lines = (run_dir / "records.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "records.jsonl").write_text("".join(lines[:-3]))
    kept = {json.loads(line)["cell_id"] for line in lines[:-3]}
    assert run_cli("run", "--out", run_dir, "--resume", "--quiet") == 0
    records = read_records(run_dir / "records.jsonl")
    assert len(records) == 12
    assert len({r["cell_id"] for r in records[-3:]} & kept) == 0
    assert run_cli("run", "--out", run_dir, "--resume", "--quiet") == 0  # nothing left to do
    assert len(read_records(run_dir / "records.jsonl")) == 12


def sleep_config(path: Path, seconds: float) -> Path:
    """A matrix file whose test-sleepy entry sleeps ``seconds`` in fit."""
    path.write_text(f"[model_options.test-sleepy]\nseconds = {seconds}\n")
    return path


def test_timeout_and_crash_are_recorded_and_the_matrix_goes_on(tmp_path):
    out = tmp_path / "run"
    started = time.monotonic()
    code = run_cli(
        "run",
        *SMALL,
        "--config",
        sleep_config(tmp_path / "slow.toml", 60),
        "--plugins",
        PLUGIN,
        "--models",
        "test-*",
        "pixels-logreg",
        "--timeout",
        "8",
        "--jobs",
        "2",
        "--out",
        out,
    )
    assert code == 0 and time.monotonic() - started < 55
    status = {r["model"]: r for r in read_records(out / "records.jsonl")}
    assert status["test-sleepy"]["status"] == "timeout"
    assert "timeout" in status["test-sleepy"]["reason"]
    assert status["test-crash"]["status"] == "error"
    assert "deliberate failure in fit" in status["test-crash"]["reason"]
    assert status["pixels-logreg"]["status"] == "ok"


def test_kill_9_keeps_finished_cells_and_resume_completes(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "hybench.cli",
        "run",
        *SMALL,
        "--plugins",
        PLUGIN,
        "--models",
        "pixels-logreg",
        "hog-logreg",
        "test-sleepy",
        "--out",
        str(out),
    ]
    slow = sleep_config(tmp_path / "slow.toml", 120)
    proc = subprocess.Popen(
        [*cmd, "--config", str(slow)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = out / "records.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records.exists() and len(records.read_text().splitlines()) >= 2:
            break
        time.sleep(0.5)
    time.sleep(1)  # the sleepy cell is now running
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = read_records(records)  # every line parses
    assert {r["model"] for r in finished} == {"pixels-logreg", "hog-logreg"}
    fast = sleep_config(tmp_path / "fast.toml", 0)
    subprocess.run([*cmd, "--config", str(fast), "--resume"], check=True, capture_output=True)
    done = latest_by_cell(read_records(records))
    assert len(done) == 3 and all(r["status"] == "ok" for r in done.values())
    assert len(read_records(records)) == 3  # finished cells were not rerun


def test_same_seed_gives_identical_split_and_classical_results(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text("[dataset_options.synthetic-cxr]\nn = 400\n")
    models = ["pixels-logreg", "hog-rf", "hog-xgb"]
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        code = run_cli("run", *SMALL, "--config", config, "--models", *models,
                       "--imbalance", "none,smote", "--out", out,
                       "--cache-dir", tmp_path / f"cache-{name}")
        assert code == 0
        runs.append({r["cell_id"]: r for r in read_records(out / "records.jsonl")})
    assert runs[0].keys() == runs[1].keys() and len(runs[0]) == 6
    for cid, a in runs[0].items():
        b = runs[1][cid]
        assert a["status"] == b["status"] == "ok"
        assert a["split_fingerprint"] == b["split_fingerprint"]
        assert a["metrics"] == b["metrics"]
        assert a["test_scores"] == b["test_scores"]


def test_second_run_reuses_the_feature_cache(tmp_path):
    logs = []
    for name in ("first", "second"):
        out = tmp_path / name
        assert (
            run_cli(
                "run",
                *SMALL,
                "--models",
                "hog-logreg",
                "--out",
                out,
                "--cache-dir",
                tmp_path / "cache",
            )
            == 0
        )
        logs.append(json.loads((out / "run.json").read_text())["features"])
    (key,) = logs[0]
    assert logs[0][key]["cache_hit"] is False and logs[1][key]["cache_hit"] is True
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["datasets", "features"]


def test_config_file_with_flag_override(tmp_path):
    config = tmp_path / "m.toml"
    config.write_text(
        'datasets = ["synthetic-cxr"]\nmodels = ["hog-logreg", "pixels-logreg"]\n'
        'imbalance = ["none"]\nseeds = [0]\n'
        "[dataset_options.synthetic-cxr]\nn = 400\n"
    )
    out = tmp_path / "run"
    assert (
        run_cli("run", "--config", config, "--models", "hog-logreg", "--out", out, "--quiet") == 0
    )
    records = read_records(out / "records.jsonl")
    assert [r["model"] for r in records] == ["hog-logreg"]
    assert (
        json.loads((out / "run.json").read_text())["datasets"]["synthetic-cxr"]["n_images"] == 400
    )


def test_models_and_datasets_listings(capsys):
    assert run_cli("models", "hog-*") == 0
    out = capsys.readouterr().out
    assert "hog-logreg" in out and "hog-xgb" in out and "pixels-logreg" not in out
    assert run_cli("datasets") == 0
    out = capsys.readouterr().out
    assert "pneumoniamnist" in out and "synthetic-cxr" in out


@requires_pneumonia
def test_real_pneumoniamnist_official_split(tmp_path):
    from tests.conftest import PNEUMONIA_NPZ
    from tests.test_verdicts import assert_metrics_match_stored_scores

    out = tmp_path / "run"
    assert (
        run_cli(
            "run",
            "--dataset",
            "pneumoniamnist",
            "--data-dir",
            PNEUMONIA_NPZ.parent,
            "--models",
            "hog-logreg",
            "--imbalance",
            "class-weight",
            "--seeds",
            "0",
            "--out",
            out,
            "--quiet",
        )
        == 0
    )
    info = json.loads((out / "run.json").read_text())["datasets"]["pneumoniamnist"]
    assert info["split_kind"]["0"] == "official"
    assert info["split_sizes"]["0"] == {"train": 4708, "val": 524, "test": 624}
    (record,) = read_records(out / "records.jsonl")
    assert record["status"] == "ok" and len(record["test_labels"]) == 624
    assert record["threshold"]["chosen_on"] == "val"
    assert record["metrics"]["roc_auc"] > 0.9  # HOG + logistic regression is a strong baseline
    assert record["class_counts"]["test"] == [234, 390]
    assert_metrics_match_stored_scores(record)
    assert run_cli("leaderboard", out, "-o", out / "board.md") == 0
    assert "Class mix differs between validation and test" in (out / "board.md").read_text()


def test_existing_run_dir_needs_resume(small_run_dir, capsys):
    assert run_cli("run", "--out", small_run_dir, "--quiet") == 2
    assert "--resume" in capsys.readouterr().err


def test_missing_imagenet_weights_give_a_skip_record(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    out = tmp_path / "run"
    assert run_cli("run", *SMALL, "--models", "mobilenet-0.25-logreg", "hog-logreg",
                   "--imbalance", "none", "--out", out) == 0
    records = {r["model"]: r for r in read_records(out / "records.jsonl")}
    skipped = records["mobilenet-0.25-logreg"]
    assert skipped["status"] == "skipped" and skipped["metrics"] is None
    assert "mobilenet_2_5_224_tf_no_top.h5" in skipped["reason"]
    assert str(tmp_path / "empty-keras" / "models") in skipped["reason"]
    assert records["hog-logreg"]["status"] == "ok"
