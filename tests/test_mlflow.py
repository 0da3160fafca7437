"""MLflow tracking (the ``hybench[mlflow]`` extra) against a real SQLite tracking store."""

import json
import shutil
import subprocess
import sys

import pytest

from hybench.cli import main
from hybench.report.mlflow_log import cell_metrics, cell_params
from hybench.results.records import latest_by_cell, read_records
from hybench.results.run_dir import RunDirectory

NO_MLFLOW = 'mlflow is not installed (pip install "hybench[mlflow]")'
INSTALL = 'pip install "hybench[mlflow]"'
TINY_CONFIG = """
datasets = ["synthetic-cxr"]
models = ["pixels-logreg"]
imbalance = ["none"]
seeds = [0]

[dataset_options.synthetic-cxr]
n = 600
"""


@pytest.fixture
def uri(tmp_path, monkeypatch) -> str:
    """A fresh SQLite tracking store; the cwd moves too (its artifacts go to ./mlruns)."""
    pytest.importorskip("mlflow", reason=NO_MLFLOW)
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.fixture(scope="module")
def logged(small_run_dir, tmp_path_factory) -> tuple[str, dict]:
    """small_run_dir logged once through the CLI: (tracking URI, newest record per cell)."""
    pytest.importorskip("mlflow", reason=NO_MLFLOW)
    folder = tmp_path_factory.mktemp("mlflow")
    store = f"sqlite:///{folder}/mlflow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert main(["mlflow-log", str(small_run_dir), "--tracking-uri", store]) == 0
    return store, latest_by_cell(read_records(small_run_dir / "records.jsonl"))


def tracked(store: str) -> tuple[list, list]:
    """(parents, children) of the "hybench" experiment, active runs only."""
    from mlflow import MlflowClient

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("hybench")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    is_child = ["mlflow.parentRunId" in r.data.tags for r in runs]
    return ([r for r, child in zip(runs, is_child, strict=True) if not child],
            [r for r, child in zip(runs, is_child, strict=True) if child])


def by_cell(children: list) -> dict:
    return {r.data.tags["hybench.cell_id"]: r for r in children}


def expected_metrics(record: dict) -> dict[str, float]:
    expected = dict(record["metrics"] or {})
    expected |= {f"val_{k}": v for k, v in (record["val_metrics"] or {}).items()}
    for row in record["per_class"] or []:
        expected |= {f"{m}/{row['class']}": row[m] for m in ("precision", "recall", "f1")}
    expected |= {k: record[k] for k in ("fit_seconds", "feature_seconds")}
    inference = record["inference"] or {}
    expected |= {k: inference.get(k)
                 for k in ("images_per_second", "latency_ms_p50", "latency_ms_p95")}
    return {k: v for k, v in expected.items() if v is not None}


def artifacts(store: str, run) -> set[str]:
    from mlflow import MlflowClient

    return {a.path for a in MlflowClient(store).list_artifacts(run.info.run_id)}


def test_one_parent_and_one_child_per_cell(logged, small_run_dir):
    store, records = logged
    parents, children = tracked(store)
    assert len(parents) == 1 and len(children) == len(records) == 12
    parent = parents[0]
    assert set(by_cell(children)) == set(records)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    meta = RunDirectory(small_run_dir).read_meta()
    params = parent.data.params
    fingerprint = meta["datasets"]["synthetic-cxr"]["dataset_fingerprint"]
    assert params["dataset.synthetic-cxr.dataset_fingerprint"] == fingerprint
    assert params["dataset.synthetic-cxr.split_fingerprints.1"] == (
        meta["datasets"]["synthetic-cxr"]["split_fingerprints"]["1"])
    assert params["config.models"] == json.dumps(meta["config"]["models"])
    assert params["machine.hostname"] == meta["machine"]["hostname"]
    assert params["package.numpy"] == meta["packages"]["numpy"]
    if meta.get("git"):
        assert parent.data.tags["mlflow.source.git.commit"] == meta["git"]["commit"]
    assert parent.data.tags["hybench.run_dir"] == str(small_run_dir)
    assert {"leaderboard.md", "leaderboard.csv", "report.html", "run.json"} <= artifacts(
        store, parent)


def test_children_hold_the_records(logged):
    store, records = logged
    children = by_cell(tracked(store)[1])
    for cell, record in records.items():
        child = children[cell]
        metrics, params, tags = child.data.metrics, child.data.params, child.data.tags
        expected = expected_metrics(record)
        assert {k: metrics[k] for k in expected} == pytest.approx(expected, rel=1e-12)
        for key in ("model", "family", "features", "imbalance", "seed"):
            assert params[key] == str(record[key])
        assert params["image_size"] == "32x32" and params["channels"] == "1"
        for key, value in record["feature_params"].items():
            assert params[f"feature_params.{key}"] == (
                value if isinstance(value, str) else json.dumps(value))
        assert tags["hybench.status"] == record["status"]
        assert tags.get("hybench.reason") == record["reason"]
        assert tags["hybench.finished_at"] == record["finished_at"]
        names = artifacts(store, child)
        assert "record.json" in names
        assert ("confusion_matrix.png" in names) == (record["status"] == "ok")
    assert sum(r["status"] == "ok" for r in records.values()) == 10  # 2 not applicable


def test_relogging_adds_nothing(logged, small_run_dir, monkeypatch, tmp_path, capsys):
    store, records = logged
    before = {c: r.info.run_id for c, r in by_cell(tracked(store)[1]).items()}
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["mlflow-log", str(small_run_dir), "--tracking-uri", store]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "12 unchanged" in line and "mlflow ui --backend-store-uri" in line
    parents, children = tracked(store)
    assert len(parents) == 1 and {c: r.info.run_id for c, r in by_cell(children).items()} == before


def test_a_changed_record_replaces_its_child(small_run_dir, tmp_path, uri):
    from hybench.report.mlflow_log import log_run

    run = tmp_path / "run"
    shutil.copytree(small_run_dir, run)
    directory = RunDirectory(run)
    records = latest_by_cell(directory.records())
    cell = "synthetic-cxr|pixels-logreg|none|seed0"
    log_run(run, uri)
    first = by_cell(tracked(uri)[1])[cell]
    # a cell that errored, then ran again under --resume: the newest record wins each time
    failed = {**records[cell], "status": "error", "reason": "worker died (signal 9)",
              "metrics": None, "val_metrics": None, "per_class": None, "confusion_matrix": None,
              "inference": None, "finished_at": "2099-01-01T00:00:00+00:00"}
    directory.append(failed)
    assert log_run(run, uri).cells == {"replaced": 1, "unchanged": 11}
    child = by_cell(tracked(uri)[1])[cell]
    assert child.info.status == "FAILED" and child.data.tags["hybench.reason"] == failed["reason"]
    assert "macro_f1" not in child.data.metrics
    rerun = {**records[cell], "metrics": {**records[cell]["metrics"], "macro_f1": 0.125},
             "finished_at": "2099-01-02T00:00:00+00:00"}
    directory.append(rerun)
    log_run(run, uri)
    parents, children = tracked(uri)
    child = by_cell(children)[cell]
    assert len(parents) == 1 and len(children) == 12
    assert child.info.run_id != first.info.run_id and child.info.status == "FINISHED"
    assert child.data.metrics["macro_f1"] == 0.125
    assert child.data.tags["hybench.finished_at"] == rerun["finished_at"]


def test_awkward_names_and_long_values_are_logged(small_run_dir, uri):
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    meta = RunDirectory(small_run_dir).read_meta()
    record = next(r for r in read_records(small_run_dir / "records.jsonl") if r["status"] == "ok")
    names = ["a/b", "..", "x:y?", "a_b"]
    record = {**record, "model_options": {"layers": "x" * 10_000, "odd key!": 1},
              "per_class": [{**record["per_class"][0], "class": n} for n in names]}
    metrics, params = cell_metrics(record), cell_params(record, meta)
    assert {"f1/a_b", "f1/_..", "f1/x_y_", "f1/a_b_3"} <= set(metrics)
    assert len(params["model_options.layers"]) == 6000 and "model_options.odd key_" in params
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("odd")).info.run_id
    client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                     params=[Param(k, v) for k, v in params.items()])
    assert client.get_run(run_id).data.metrics == pytest.approx(metrics)


def test_run_with_mlflow_logs_it_and_a_resume_keeps_one_child_per_cell(tmp_path, uri, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG)
    out = tmp_path / "run"
    base = ["run", "--config", str(config), "--out", str(out), "--mlflow", uri]
    assert main([*base, "--quiet"]) == 0
    (parent,), (child,) = tracked(uri)
    capsys.readouterr()
    assert main([*base, "--resume", "--seeds", "0,1"]) == 0  # other params: parent replaced
    assert f"at {uri}" in capsys.readouterr().out.strip().splitlines()[-1]
    parents, children = tracked(uri)
    assert len(parents) == 1 and len(children) == 2
    assert parents[0].info.run_id != parent.info.run_id  # and the seed-0 child re-attached:
    assert child.info.run_id in {r.info.run_id for r in children}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert parents[0].data.params["config.seeds"] == "[0, 1]"


def test_bad_tracking_uri_or_run_dir_is_one_line(small_run_dir, tmp_path, uri, capsys):
    missing = f"sqlite:///{tmp_path}/absent/mlflow.db"
    assert main(["mlflow-log", str(small_run_dir), "--tracking-uri", missing]) == 2
    assert main(["mlflow-log", str(small_run_dir), "--tracking-uri", "nosuch://host"]) == 2
    assert main(["mlflow-log", str(tmp_path / "no-run"), "--tracking-uri", uri]) == 2
    out = tmp_path / "run"
    assert main(["run", "--dataset", "synthetic-cxr", "--out", str(out), "--mlflow", missing]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("hybench: error: ") for line in lines)
    assert "absent" in lines[0] and "nosuch" in lines[1] and "no-run" in lines[2]
    assert not (tmp_path / "absent").exists() and not out.exists()


def test_a_refused_file_store_is_one_line_before_the_run(tmp_path, uri, monkeypatch, capsys):
    from mlflow import environment_variables

    if not hasattr(environment_variables, "MLFLOW_ALLOW_FILE_STORE"):
        pytest.skip("this MLflow still writes file stores")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    out = tmp_path / "run"
    assert main(["run", "--dataset", "synthetic-cxr", "--out", str(out), "--mlflow",
                 str(tmp_path / "mlruns")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "MLFLOW_ALLOW_FILE_STORE" in line and not out.exists()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from hybench.report.mlflow_log import check_tracking

    assert check_tracking(str(tmp_path / "mlruns")) == str(tmp_path / "mlruns")


@pytest.mark.parametrize("command", ["mlflow-log", "run"])
def test_without_mlflow_one_line_and_nothing_written(command, small_run_dir, tmp_path):
    out = tmp_path / "run"
    args = ([command, str(small_run_dir)] if command == "mlflow-log" else
            [command, "--dataset", "synthetic-cxr", "--out", str(out), "--mlflow"])
    code = ("import sys; sys.modules['mlflow'] = None; from hybench.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and INSTALL in done.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory, no MLflow store
