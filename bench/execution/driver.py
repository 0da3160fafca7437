"""Execute a planned run: write the run directory, dispatch cells, append their records.

Each finished cell is appended to ``records.jsonl`` at once, so a crash or Ctrl-C loses nothing.
The driver is the only writer of the run directory; cells only return records. ``run.json``
keeps the first session's machine, packages and commit; every session (a ``--resume``) is listed
under ``sessions`` with its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from hybench.data.splits import count_cross_split_duplicates
from hybench.execution.cell import CellTask, finished_record, now_iso
from hybench.execution.config import RunConfig
from hybench.execution.executor import Executor, LocalExecutor, Outcome
from hybench.execution.planning import RunPlan
from hybench.execution.provenance import git_commit, machine_info, package_versions
from hybench.execution.ray_executor import RayExecutor
from hybench.execution.tasks import TaskFactory
from hybench.execution.timing import REFERENCE_WORKLOAD, reference_workload_seconds
from hybench.storage import cache_root

PROVENANCE = ("machine", "packages", "git", "reference_workload")  # kept from the first session


def execute(
    plan: RunPlan,
    *,
    executor: Executor | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> Path:
    """Run every pending cell; returns the run directory's path."""
    config, run_dir = plan.config, plan.run_dir
    run_dir.splits_dir.mkdir(parents=True, exist_ok=True)
    for (name, seed), split in plan.splits.items():
        split.save(run_dir.split_path(name, seed))
    stored = run_dir.read_meta() if run_dir.has_meta() else {}
    session = {
        "started_at": now_iso(),
        "cells": len(plan.pending),
        "machine": machine_info(),
        "packages": package_versions(),
        "git": git_commit(),
        "reference_workload": {"name": REFERENCE_WORKLOAD, "seconds": reference_workload_seconds()},
    }
    static = {
        "config": config.to_dict(),
        "datasets": {
            name: merge_dataset_info(stored.get("datasets", {}).get(name), dataset_info(plan, name))
            for name in plan.datasets
        },
        **{key: session[key] for key in PROVENANCE},
        **{key: stored[key] for key in PROVENANCE if key in stored},  # the first session's
        "sessions": [*stored.get("sessions", []), session],
        "notes": list(dict.fromkeys([*stored.get("notes", []), *plan.notes])),
    }
    write_run_metadata(plan, static, {})

    def finish(record: dict) -> None:
        run_dir.append(record)
        if on_progress:
            on_progress(record)

    factory = TaskFactory(plan, cache_root(config.cache_dir))
    tasks: list[CellTask] = []
    for cell in plan.pending:
        task = factory.build(cell)
        if isinstance(task, dict):
            finish(task)
        else:
            tasks.append(task)
    write_run_metadata(plan, static, factory.feature_log)

    def on_result(task: CellTask, outcome: Outcome) -> None:
        status, payload = outcome
        finish(payload if status == "ok" else finished_record(task, status, str(payload)))

    if executor is not None:
        executor.run(tasks, on_result)
    else:
        with open_executor(config) as opened:
            opened.run(tasks, on_result)
    return run_dir.path


@contextlib.contextmanager
def open_executor(config: RunConfig) -> Iterator[Executor]:
    """The executor the config names, connected for the ``with`` block (Ray: a local instance or
    the cluster at ``ray_address``; a failure to connect is a one-line error)."""
    if config.executor == "ray":
        executor = RayExecutor(config.ray_address, config.timeout, config.ray_retries,
                               config.ray_resources)
        with executor.session(config.plugins) as connected:
            yield connected
    else:
        yield LocalExecutor(config.jobs, config.timeout)


def dataset_info(plan: RunPlan, name: str) -> dict:
    """What ``run.json`` says of one dataset: source, fingerprints, class counts, splits."""
    dataset = plan.datasets[name]
    seeds = plan.config.seeds
    return {
        "source": dataset.source,
        "dataset_fingerprint": dataset.fingerprint(),
        "n_images": len(dataset.images),
        "image_shape": list(dataset.image_shape),
        "class_names": list(dataset.class_names),
        "class_counts": np.bincount(dataset.labels, minlength=dataset.n_classes).tolist(),
        "split_kind": {s: plan.splits[name, s].kind for s in seeds},
        "split_sizes": {
            s: {k: len(plan.splits[name, s].indices(k)) for k in ("train", "val", "test")}
            for s in seeds
        },
        "split_fingerprints": {s: plan.splits[name, s].fingerprint() for s in seeds},
        "cross_split_duplicates": {
            s: count_cross_split_duplicates(dataset, plan.splits[name, s]) for s in seeds
        },
    }


def merge_dataset_info(stored: dict | None, current: dict) -> dict:
    """``current`` with the per-seed entries of seeds only the stored ``run.json`` knows (a
    resume with fewer seeds keeps the split fingerprints of the others)."""
    if not stored:
        return current
    return {key: {**stored[key], **value}
            if isinstance(value, dict) and isinstance(stored.get(key), dict) else value
            for key, value in current.items()}


def write_run_metadata(plan: RunPlan, static: dict, feature_log: dict[str, dict]) -> None:
    """(Re)write ``run.json``: ``static`` holds what does not change during the run."""
    run_dir = plan.run_dir
    created = run_dir.read_meta().get("created_at") if run_dir.has_meta() else None
    run_dir.write_meta({
        "created_at": created or now_iso(),
        "updated_at": now_iso(),
        **static,
        "features": feature_log,
        "cells": len(plan.cells),
    })
