"""Log a run directory to MLflow (optional extra ``hybench[mlflow]``): a view of the records.

One parent run per run directory, found again by the tag ``hybench.run_key`` (a digest of what
``--resume`` never changes: ``run.json``'s ``created_at``, its first session and the dataset
fingerprints), and one nested child run per cell, tagged ``hybench.cell_id``. Logging again
keeps a child whose record digest is unchanged, replaces one whose record changed and deletes
children of cells the records no longer hold, so a run logged after every ``--resume`` has
exactly one child per cell. MLflow params cannot change, so a parent whose params changed (a
resume with other options) is replaced and its children re-attached. Only the driver process
logs (concurrent writers corrupt file and SQLite stores). ``mlflow`` is imported lazily.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shlex
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from hybench.errors import HybenchError, first_line
from hybench.results.runs import Run, RunSet, load_runs

DEFAULT_EXPERIMENT = "hybench"
INSTALL = 'pip install "hybench[mlflow]"'
RUN_KEY, CELL_ID, DIGEST = "hybench.run_key", "hybench.cell_id", "hybench.record_digest"
PARENT = "mlflow.parentRunId"
FORMAT = 1  # part of every record digest: bump when children are logged differently
BATCH = 100  # MLflow's limit of params (and of tags) per log_batch
MAX_KEY, MAX_PARAM, MAX_TAG = 250, 6000, 8000  # MLflow's key / param value / tag value limits
CUT = " ...[cut; full value in the JSON artifact]"
RECORD_PARAMS = ("dataset", "model", "family", "features", "imbalance", "seed",
                 "dataset_fingerprint", "split_fingerprint", "weights", "hybench_version")
TIMINGS = ("fit_seconds", "feature_seconds", "predict_seconds", "duration_seconds",
           "n_parameters", "serialized_bytes")
INFERENCE = ("images_per_second", "latency_ms_p50", "latency_ms_p95")
FAILED = ("error", "timeout")


@dataclass(frozen=True)
class Logged:
    """Where a run was logged, and what happened to its cells (new / replaced / unchanged)."""

    tracking_uri: str
    experiment: str
    parent_run_id: str
    cells: Counter

    def summary(self) -> str:
        """One line: experiment, parent run, tracking URI and how to look at it."""
        counts = ", ".join(f"{self.cells[k]} {k}" for k in ("new", "replaced", "unchanged"))
        if urlparse(self.tracking_uri).scheme in ("http", "https"):
            view = f"open {self.tracking_uri}"
        else:
            view = f"mlflow ui --backend-store-uri {shlex.quote(self.tracking_uri)}"
        total = self.cells.total()
        return (f"mlflow: {total} cell{'' if total == 1 else 's'} logged to experiment "
                f"{self.experiment!r} (parent run {self.parent_run_id}; {counts}) at "
                f"{self.tracking_uri}; look at it with: {view}")


def check_tracking(uri: str | None) -> str:
    """The tracking URI to use (``None``: MLflow's default, honouring ``MLFLOW_TRACKING_URI``),
    checked without writing anything; one-line error when mlflow is missing or the URI is not
    usable."""
    mlflow = _import_mlflow()
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    uri = uri or mlflow.get_tracking_uri()
    scheme = urlparse(uri).scheme
    try:
        _tracking_store_registry.get_store_builder(uri)
    except MlflowException:
        raise HybenchError(f"MLflow cannot use tracking URI {uri} (unknown scheme {scheme!r})",
                           "pass e.g. sqlite:///mlflow.db or http://HOST:PORT") from None
    if scheme in ("", "file") and not _file_store_allowed():
        raise HybenchError(f"MLflow {mlflow.__version__} refuses the file store {uri} unless "
                           "MLFLOW_ALLOW_FILE_STORE=true",
                           "pass sqlite:///mlflow.db (mlflow migrate-filestore moves old data), "
                           "or set MLFLOW_ALLOW_FILE_STORE=true")
    folder = _store_folder(uri, scheme)
    if folder is not None and not (folder.is_dir() and os.access(folder, os.W_OK)):
        raise HybenchError(f"MLflow tracking URI {uri}: folder {folder} does not exist or is not "
                           "writable", "create the folder or pass another tracking URI")
    return uri


def log_run(run_dir: str | Path, tracking_uri: str,
            experiment: str = DEFAULT_EXPERIMENT) -> Logged:
    """Log (or update) one run directory in MLflow; see the module docstring for the rules."""
    _import_mlflow()
    from mlflow.exceptions import MlflowException

    runs = load_runs([Path(run_dir)])

    with _quiet():
        try:
            return _log(runs, tracking_uri, experiment)
        except (MlflowException, OSError) as exc:
            first = first_line(exc) or type(exc).__name__
            raise HybenchError(f"logging {run_dir} to MLflow at {tracking_uri} failed: {first}",
                               f"fix that, then run hybench mlflow-log {run_dir}") from exc


def run_key(meta: dict) -> str:
    """The stable key of a run directory: unchanged by ``--resume``, distinct between runs."""
    datasets = {name: info.get("dataset_fingerprint")
                for name, info in (meta.get("datasets") or {}).items()}
    first_session = (meta.get("sessions") or [None])[0]
    return _digest([meta.get("created_at"), first_session, datasets])


def record_digest(record: dict) -> str:
    """Changes whenever the record (or how hybench logs it) changes."""
    return _digest([FORMAT, record])


def cell_metrics(record: dict) -> dict[str, float]:
    """Headline test metrics, ``val_<name>``, ``<precision|recall|f1>/<class>``, timings and
    inference speed; missing and non-finite values are left out."""
    values = {_part(name): v for name, v in (record.get("metrics") or {}).items()}
    values |= {f"val_{_part(name)}": v for name, v in (record.get("val_metrics") or {}).items()}
    rows = record.get("per_class") or []
    for key, row in zip(_class_keys([r["class"] for r in rows]), rows, strict=True):
        values |= {f"{m}/{key}": row.get(m) for m in ("precision", "recall", "f1")}
    values |= {name: record.get(name) for name in TIMINGS}
    values |= {name: (record.get("inference") or {}).get(name) for name in INFERENCE}
    return {_key(name): float(v) for name, v in values.items() if _finite(v)}


def cell_params(record: dict, meta: dict) -> dict[str, str]:
    """What the cell ran: entry, strategy, seed, data, image size, feature and model options."""
    params = {name: record.get(name) for name in RECORD_PARAMS}
    shape = ((meta.get("datasets") or {}).get(record["dataset"]) or {}).get("image_shape") or []
    if len(shape) >= 2:
        params["image_size"] = f"{shape[0]}x{shape[1]}"
        params["channels"] = shape[2] if len(shape) > 2 else 1
    params |= _flatten("feature_params", record.get("feature_params"))
    params |= _flatten("model_options", record.get("model_options"))
    return _params(params)


def run_params(meta: dict) -> dict[str, str]:
    """``run.json`` as params: config, datasets (fingerprints, split fingerprints per seed, ...),
    machine, packages and git commit (the first session's)."""
    params: dict = {}
    for section, prefix in (("config", "config"), ("datasets", "dataset"), ("machine", "machine"),
                            ("packages", "package"), ("git", "git")):
        params |= _flatten(prefix, meta.get(section))
    return _params(params)


def _import_mlflow():
    try:
        import mlflow
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == "mlflow"
        problem = ("MLflow tracking needs the mlflow package, which is not installed" if missing
                   else f"mlflow could not be imported ({exc})")
        raise HybenchError(problem, INSTALL) from None
    return mlflow


def _file_store_allowed() -> bool:
    """Recent MLflow releases refuse ``./mlruns``-style stores unless MLFLOW_ALLOW_FILE_STORE."""
    from mlflow import environment_variables

    flag = getattr(environment_variables, "MLFLOW_ALLOW_FILE_STORE", None)
    return flag is None or flag.get()


def _store_folder(uri: str, scheme: str) -> Path | None:
    """The local folder a SQLite or file store writes into (``None`` for other stores)."""
    if scheme == "sqlite":
        from sqlalchemy.engine import make_url

        database = make_url(uri).database
        return Path(database).expanduser().absolute().parent if database not in (
            None, "", ":memory:") else None
    if scheme in ("", "file"):
        return Path(urlparse(uri).path if scheme else uri).expanduser().absolute().parent
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's and alembic's info logging and warnings stay out of the terminal."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _log(runs: RunSet, uri: str, experiment: str) -> Logged:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment_id = _experiment(client, experiment)
    run = runs.runs[0]
    key = run_key(run.meta)
    existing = _search(client, experiment_id, f"tags.`{RUN_KEY}` = '{key}'")
    children: dict[str, list] = {}
    for logged in existing:
        if CELL_ID in logged.data.tags:
            children.setdefault(logged.data.tags[CELL_ID], []).append(logged)
    parent_id = _parent(client, experiment_id, run, key,
                        [r for r in existing if CELL_ID not in r.data.tags])
    cells = Counter(_cell(client, experiment_id, parent_id, run.meta, key, record,
                          children.pop(record["cell_id"], []))
                    for record in runs.records)
    for stale in children.values():  # cells the records no longer hold
        for logged in stale:
            client.delete_run(logged.info.run_id)
    _parent_artifacts(client, parent_id, runs)
    client.set_terminated(parent_id, "FINISHED", end_time=_ms(run.meta.get("updated_at")))
    return Logged(uri, experiment, parent_id, cells)


def _experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        raise HybenchError(f"MLflow experiment {name!r} is deleted",
                           f"restore it with mlflow experiments restore --experiment-id "
                           f"{found.experiment_id}, or log to another experiment")
    return found.experiment_id


def _search(client, experiment_id: str, filter_string: str) -> list:
    found, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string, max_results=1000,
                                  page_token=token)
        found += page
        token = page.token
        if not token:
            return found


def _parent(client, experiment_id: str, run: Run, key: str, parents: list) -> str:
    """The parent run's id: the logged one if its params still hold, else a new one."""
    params = run_params(run.meta)
    keep = next((p for p in parents if p.data.params.items() <= params.items()), None)
    for other in parents:
        if other is not keep:
            client.delete_run(other.info.run_id)
    if keep is None:
        keep = client.create_run(experiment_id, start_time=_ms(run.meta.get("created_at")),
                                 tags={RUN_KEY: key}, run_name=run.path.name)
    git = run.meta.get("git") or {}
    tags = {"hybench.run_dir": str(run.path.absolute()),
            "hybench.created_at": run.meta.get("created_at"),
            "hybench.cells": run.meta.get("cells"),
            "hybench.sessions": len(run.meta.get("sessions") or []),
            "mlflow.source.git.commit": git.get("commit")}
    _log_batch(client, keep.info.run_id, {}, params, tags)
    return keep.info.run_id


def _cell(client, experiment_id: str, parent_id: str, meta: dict, key: str, record: dict,
          logged: list) -> str:
    """Log one cell unless an up-to-date child exists; returns new, replaced or unchanged."""
    digest = record_digest(record)
    keep = next((r for r in logged
                 if r.data.tags.get(DIGEST) == digest and r.info.status != "RUNNING"), None)
    for other in logged:
        if other is not keep:
            client.delete_run(other.info.run_id)
    if keep is not None:
        if keep.data.tags.get(PARENT) != parent_id:
            client.set_tag(keep.info.run_id, PARENT, parent_id)
        return "unchanged"
    child = client.create_run(experiment_id, start_time=_ms(record.get("started_at")),
                              tags={PARENT: parent_id, RUN_KEY: key, CELL_ID: record["cell_id"]},
                              run_name=record["cell_id"].replace("|", " / "))
    run_id = child.info.run_id
    _cell_artifacts(client, run_id, record)
    tags = {"hybench.status": record["status"], "hybench.reason": record.get("reason"),
            "hybench.finished_at": record.get("finished_at"), DIGEST: digest}
    _log_batch(client, run_id, cell_metrics(record), cell_params(record, meta), tags,
               timestamp=_ms(record.get("finished_at")))
    status = "FAILED" if record["status"] in FAILED else "FINISHED"
    client.set_terminated(run_id, status, end_time=_ms(record.get("finished_at")))
    return "replaced" if logged else "new"


def _cell_artifacts(client, run_id: str, record: dict) -> None:
    """``record.json`` (the line of records.jsonl) and, for ok cells, ``confusion_matrix.png``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "record.json").write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        if record.get("confusion_matrix") is not None:
            from hybench.report import plots

            title = f"{record['model']} / {record['imbalance']} / seed {record['seed']}"
            with plots.plain_text():
                figure = plots.confusion_grid([(title, record["confusion_matrix"])],
                                              record["class_names"])
                (folder / "confusion_matrix.png").write_bytes(plots.png_bytes(figure))
        client.log_artifacts(run_id, tmp)


def _parent_artifacts(client, run_id: str, runs: RunSet) -> None:
    """The leaderboard (Markdown and CSV), the HTML report and ``run.json``."""
    from hybench.report.html_report import write_report
    from hybench.report.render import render
    from hybench.storage import write_text_atomic

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for fmt in ("md", "csv"):
            write_text_atomic(folder / f"leaderboard.{fmt}", render(runs, fmt))
        write_report(runs, folder / "report.html")
        write_text_atomic(folder / "run.json",
                          json.dumps(runs.runs[0].meta, indent=2, sort_keys=True) + "\n")
        client.log_artifacts(run_id, tmp)


def _log_batch(client, run_id: str, metrics: dict, params: dict, tags: dict,
               timestamp: int = 0) -> None:
    """Metrics, params and tags in as few ``log_batch`` calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    metric_list = [Metric(k, v, timestamp, 0) for k, v in metrics.items()]
    param_list = [Param(k, v) for k, v in params.items()]
    tag_list = [RunTag(k, _cut(str(v), MAX_TAG)) for k, v in tags.items() if v is not None]
    for start in range(0, max(len(metric_list), len(param_list), len(tag_list)), BATCH):
        end = start + BATCH
        client.log_batch(run_id, metrics=metric_list[start:end], params=param_list[start:end],
                         tags=tag_list[start:end])


def _params(values: dict) -> dict[str, str]:
    """Sanitised keys, text values cut to MLflow's limit; ``None`` left out."""
    return {_key(k): _cut(v if isinstance(v, str) else json.dumps(v, sort_keys=True), MAX_PARAM)
            for k, v in values.items() if v is not None}


def _flatten(prefix: str, value) -> dict:
    """Nested dicts as ``prefix.key.subkey`` entries (lists and scalars stay values)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict = {}
    for name, item in value.items():
        flat |= _flatten(f"{prefix}.{_part(name)}", item)
    return flat


def _part(name) -> str:
    """One key component: only characters MLflow accepts everywhere, never ``.``/``..``."""
    text = re.sub(r"[^\w.\- ]", "_", str(name))
    return text if text.strip(".") else f"_{text}"


def _key(name: str) -> str:
    return name[:MAX_KEY]


def _class_keys(names: list[str]) -> list[str]:
    """Sanitised class names, made unique with the class index where two collide."""
    keys: list[str] = []
    for index, name in enumerate(names):
        key = _part(name)
        keys.append(f"{key}_{index}" if key in keys else key)
    return keys


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - len(CUT)] + CUT


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ms(iso: str | None) -> int:
    """Milliseconds since the epoch of an ISO time (now when missing), as MLflow wants them."""
    return int((datetime.fromisoformat(iso) if iso else datetime.now(UTC)).timestamp() * 1000)


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
