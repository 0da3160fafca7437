"""`--executor ray` on a real two-node Ray cluster (loopback-only namespace): same records as a
local run, plugins shipped, per-cell timeout, Ctrl-C, node death with and without retries."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybench.cli import main
from hybench.execution.config import build_config
from hybench.execution.planning import plan_run
from hybench.execution.tasks import TaskFactory
from hybench.results.records import latest_by_cell, read_records
from hybench.storage import cache_root
from tests.conftest import MOBILENET_H5, requires_mobilenet
from tests.ray_cluster import BIN, Cluster, unavailable_reason

pytest.importorskip("ray", reason='the ray extra is not installed (pip install "hybench[ray]")')

PLUGIN = str(Path(__file__).with_name("plugin_entries.py"))
COMPARED = ("status", "metrics", "val_metrics", "per_class", "confusion_matrix", "threshold",
            "test_scores", "val_scores", "split_fingerprint", "dataset_fingerprint", "reason",
            "feature_params", "model_options", "class_counts")
RUN_SECONDS = 300
NO_ROUTE = "Failed to determine local IP via external connectivity"  # the namespace has no route


def matrix(path: Path, *, sleep: float = 0.0, retries: int = 1) -> Path:
    path.write_text(f"""
datasets = ["synthetic-cxr"]
seeds = [0]
ray_retries = {retries}

[dataset_options.synthetic-cxr]
n = 600

[model_options.test-sleepy]
seconds = {sleep}
""")
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A head node and a worker node, one CPU each, stopped after the module's tests."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    markers = tmp_path_factory.mktemp("markers")
    started = Cluster({"HYBENCH_TEST_MARKERS": str(markers)})
    started.markers = markers
    try:
        started.start_node("head")
        started.start_node("worker")
        yield started
    finally:
        started.stop()


def hybench(cluster: Cluster, *args, **kwargs) -> subprocess.CompletedProcess:
    """``hybench`` inside the cluster's namespace (a driver on one of its machines)."""
    return cluster.run([str(BIN / "hybench"), *map(str, args)], capture_output=True, text=True,
                       timeout=kwargs.pop("timeout", RUN_SECONDS), **kwargs)


def records(run_dir: Path) -> dict[str, dict]:
    return latest_by_cell(read_records(run_dir / "records.jsonl"))


def wait_for_marker(cluster: Cluster, node: str, seconds: float = 120) -> None:
    """Until a test-sleepy cell has started on ``node``."""
    deadline = time.monotonic() + seconds
    while not any(p.name.startswith(f"{node}-") for p in cluster.markers.iterdir()):
        assert time.monotonic() < deadline, f"no cell started on {node} in {seconds} s"
        time.sleep(0.2)


def clear_markers(cluster: Cluster) -> None:
    for path in cluster.markers.iterdir():
        path.unlink()


def run_with_action(cluster: Cluster, args: list, started_on: list[str], action) -> tuple[int, str]:
    """Start the driver; once a test-sleepy cell runs on every node of ``started_on``, call
    ``action(driver)``; return the driver's exit code and stderr (every wait bounded)."""
    clear_markers(cluster)
    driver = cluster.popen([str(BIN / "hybench"), *map(str, args)], stderr=subprocess.PIPE,
                           text=True)
    try:
        for node in started_on:
            wait_for_marker(cluster, node)
        action(driver)
        _, err = driver.communicate(timeout=RUN_SECONDS)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    return driver.returncode, err


def test_missing_ray_extra_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    code = ("import sys; sys.modules['ray'] = None; from hybench.cli import main; "
            f"sys.exit(main(['run', '--executor', 'ray', '--out', {str(out)!r}, '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert 'pip install "hybench[ray]"' in done.stderr
    assert not out.exists()


def test_unreachable_cluster_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--executor", "ray", "--ray-address", "127.0.0.1:9", "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybench: error: cannot start Ray (127.0.0.1:9)") and "\n" not in err
    assert not out.exists()


def test_ray_tasks_carry_no_path_of_the_driver(tmp_path):
    """What a Ray task receives (the path-free cell and plugin module names) holds none of the
    driver's paths: run dir, cache, plugin folder, working directory, home."""
    from hybench.execution.ray_executor import _package_plugins, remote_task

    config = build_config({"datasets": ["synthetic-cxr"], "plugins": [PLUGIN],
                           "models": ["pixels-logreg", "hog-logreg", "test-sleepy"],
                           "dataset_options": {"synthetic-cxr": {"n": 300}},
                           "out": str(tmp_path / "run"), "executor": "ray"})
    plan = plan_run(config)
    factory = TaskFactory(plan, cache_root(config.cache_dir))
    tasks = [t for t in map(factory.build, plan.pending) if not isinstance(t, dict)]
    package, modules = _package_plugins(config.plugins)
    assert len(tasks) == 3 and package is not None
    blob = pickle.dumps(([remote_task(t, 1) for t in tasks], modules))
    driver_paths = {tmp_path, cache_root(config.cache_dir), Path(PLUGIN).parent, Path.cwd(),
                    Path.home(), package.parent}
    for path in driver_paths:
        assert str(path).encode() not in blob, path
    assert all(t.features_path is not None for t in tasks)  # the local task has them


def test_cluster_run_matches_a_local_run(cluster, tmp_path):
    config = matrix(tmp_path / "m.toml")
    models = ["pixels-logreg", "hog-logreg", "pixels-knn", "test-crash"]
    common = ["--config", config, "--plugins", PLUGIN, "--models", *models,
              "--imbalance", "none,class-weight", "--quiet"]
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main([str(a) for a in ["run", *common, "--jobs", "1", "--out", local]]) == 0
    done = hybench(cluster, "run", *common, "--executor", "ray", "--ray-address",
                   cluster.address, "--out", remote)
    assert done.returncode == 0, done.stderr
    chatter = [line for line in done.stderr.splitlines() if NO_ROUTE not in line]
    assert chatter == []  # no Ray or TensorFlow chatter on the user's terminal
    expected, got = records(local), records(remote)
    assert set(got) == set(expected) and len(read_records(remote / "records.jsonl")) == 8
    for cell, record in expected.items():
        for key in COMPARED:
            assert got[cell][key] == record[key], (cell, key)
    statuses = sorted(r["status"] for r in got.values())
    assert statuses == ["error"] + ["not_applicable"] * 2 + ["ok"] * 5
    assert (remote / "logs" / "synthetic-cxr__pixels-logreg__none__seed0.log").is_file()
    board = hybench(cluster, "leaderboard", remote)
    assert board.returncode == 0 and "pixels-logreg" in board.stdout


@requires_mobilenet
def test_backbone_weights_travel_through_the_object_store(cluster, tmp_path):
    """The weights file the embedding feature reads is shipped: the worker's copy is used."""
    config = matrix(tmp_path / "m.toml")
    config.write_text(config.read_text() + f"""
[feature_params."embed-mobilenet-0.25"]
input_size = 32
weights = "{MOBILENET_H5}"
""")
    out = tmp_path / "run"
    done = hybench(cluster, "run", "--config", config, "--models", "mobilenet-0.25-logreg",
                   "--imbalance", "none", "--plugins", PLUGIN, "--executor", "ray",
                   "--ray-address", cluster.address, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    (record,) = records(out).values()
    assert record["status"] == "ok", record["reason"]
    assert record["feature_params"]["weights"] == str(MOBILENET_H5)
    assert record["inference"]["images_per_second"] > 0


def test_overdue_cell_is_cancelled_and_recorded_as_timeout(cluster, tmp_path):
    out = tmp_path / "run"
    started = time.monotonic()
    done = hybench(cluster, "run", "--config", matrix(tmp_path / "m.toml", sleep=120),
                   "--plugins", PLUGIN, "--models", "test-sleepy", "pixels-logreg",
                   "--imbalance", "none", "--timeout", "8", "--executor", "ray",
                   "--ray-address", cluster.address, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 100
    status = {r["model"]: r for r in records(out).values()}
    assert status["test-sleepy"]["status"] == "timeout"
    assert "8 s cell timeout" in status["test-sleepy"]["reason"]
    assert status["pixels-logreg"]["status"] == "ok"


def test_ctrl_c_cancels_outstanding_cells_and_resume_finishes(cluster, tmp_path):
    out, config = tmp_path / "run", matrix(tmp_path / "m.toml", sleep=10)
    args = ["run", "--config", config, "--plugins", PLUGIN, "--models", "test-sleepy",
            "pixels-logreg", "--imbalance", "none", "--seeds", "0,1", "--executor", "ray",
            "--ray-address", cluster.address, "--out", out, "--quiet"]
    code, err = run_with_action(cluster, args, ["head", "worker"],
                                lambda driver: os.killpg(driver.pid, signal.SIGINT))
    assert code == 130 and "--resume" in err
    kept = read_records(out / "records.jsonl")
    assert all(r["model"] != "test-sleepy" for r in kept)  # cancelled, not half-written
    started = time.monotonic()
    done = hybench(cluster, *args, "--resume")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 120  # the cancelled cells no longer hold the CPUs
    finished = read_records(out / "records.jsonl")
    assert len(finished) == 4 and {r["status"] for r in finished} == {"ok"}


def test_dead_node_is_retried_then_every_cell_is_recorded_once(cluster, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--config", matrix(tmp_path / "m.toml", sleep=10), "--plugins", PLUGIN,
            "--models", "test-sleepy", "--imbalance", "none", "--seeds", "0,1",
            "--executor", "ray", "--ray-address", cluster.address, "--out", out, "--quiet"]
    code, err = run_with_action(cluster, args, ["worker"],
                                lambda driver: cluster.kill_node("worker"))
    assert code == 0, err
    lines = read_records(out / "records.jsonl")
    assert sorted(r["seed"] for r in lines) == [0, 1]
    assert {r["status"] for r in lines} == {"ok"}


def test_dead_node_without_retries_is_an_error_and_resume_finishes_locally(cluster, tmp_path):
    cluster.start_node("spare")
    out, config = tmp_path / "run", matrix(tmp_path / "m.toml", sleep=10, retries=0)
    args = ["run", "--config", config, "--plugins", PLUGIN, "--models", "test-sleepy",
            "--imbalance", "none", "--seeds", "0,1", "--executor", "ray",
            "--ray-address", cluster.address, "--out", out, "--quiet"]
    code, err = run_with_action(cluster, args, ["spare"],
                                lambda driver: cluster.kill_node("spare"))
    assert code == 0, err
    lines = read_records(out / "records.jsonl")
    assert sorted(r["status"] for r in lines) == ["error", "ok"]
    (failed,) = [r for r in lines if r["status"] == "error"]
    assert "Ray task failed after 1 attempt(s)" in failed["reason"]
    assert main([str(a) for a in [*args, "--resume", "--executor", "local"]]) == 0
    assert {r["status"] for r in records(out).values()} == {"ok"}
