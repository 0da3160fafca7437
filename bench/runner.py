"""Run a matrix: validate everything, then dataset -> split plan -> features -> cells -> records.

All input is checked before the run directory is created, so bad input leaves nothing behind.
Each finished cell is appended to ``records.jsonl`` at once, so a crash or Ctrl-C loses nothing;
``resume`` skips cells whose latest record is finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.cell import CellTask, base_record, now_iso
from bench.config import RunConfig
from bench.datasets import load_dataset
from bench.datasets.base import Dataset
from bench.errors import HybenchError, ResourceUnavailable
from bench.executor import Executor, LocalExecutor, Outcome
from bench.provenance import git_commit, machine_info, package_versions
from bench.records import (
    FINISHED,
    append_record,
    cell_id,
    latest_by_cell,
    read_records,
    write_json_atomic,
)
from bench.splits import SplitPlan, count_cross_split_duplicates, make_split_plan
from bench.timing import REFERENCE_WORKLOAD, reference_workload_seconds
from features import get_feature
from features.cache import FeatureCache, default_cache_root, save_npy_atomically
from models import get_model, load_builtin_models, load_plugins
from models.registry import resolve_globs


@dataclass(frozen=True)
class Cell:
    dataset: str
    model: str
    imbalance: str
    seed: int

    @property
    def id(self) -> str:
        return cell_id(self.dataset, self.model, self.imbalance, self.seed)


@dataclass
class RunPlan:
    """A validated run: loaded datasets, their split plans and the cells still to run."""

    config: RunConfig
    run_dir: Path
    datasets: dict[str, Dataset]
    splits: dict[tuple[str, int], SplitPlan]
    cells: list[Cell]
    done: set[str] = field(default_factory=set)

    @property
    def pending(self) -> list[Cell]:
        return [c for c in self.cells if c.id not in self.done]


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.datasets[0]}-{config.profile}-{stamp}"


def plan_run(config: RunConfig, *, resume: bool = False) -> RunPlan:
    """Validate the whole matrix without writing anything."""
    load_builtin_models()
    load_plugins(config.plugins)
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    _check_output_dir(run_dir, resume)
    blocks = [(b, resolve_globs(b.models)) for b in config.blocks()]
    for _, models in blocks:
        for model in models:
            _check_feature(config, model)
    datasets, splits = {}, {}
    for spec in config.datasets:
        dataset = load_dataset(
            spec,
            data_dir=config.data_dir,
            image_size=config.image_size,
            channels=config.channels,
            **config.dataset_options.get(spec, {}),
        )
        datasets[dataset.name] = dataset
        for seed in config.seeds:
            splits[dataset.name, seed] = make_split_plan(
                dataset, seed, fractions=tuple(config.split), resplit=config.resplit
            )
    cells = []
    for name in datasets:
        for seed in config.seeds:
            for block, models in blocks:
                for model in models:
                    for imbalance in block.imbalance:
                        cell = Cell(name, model, imbalance, seed)
                        if block.supported_only and not get_model(model).supports(imbalance):
                            continue
                        if cell not in cells:
                            cells.append(cell)
    plan = RunPlan(config, run_dir, datasets, splits, cells)
    if resume and (run_dir / "run.json").exists():
        _check_resume_matches(plan)
        plan.done = {
            cid
            for cid, r in latest_by_cell(read_records(run_dir / "records.jsonl")).items()
            if r["status"] in FINISHED
        }
    return plan


def _check_feature(config: RunConfig, model: str) -> None:
    """Unknown feature params fail now; missing resources only skip the cells later."""
    spec = get_model(model)
    with contextlib.suppress(ResourceUnavailable):
        get_feature(spec.features, **config.params_for(spec.features, spec.feature_params))


def _check_output_dir(run_dir: Path, resume: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise HybenchError(
            f"output {run_dir} exists and is not a directory", "choose another --out"
        )
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise HybenchError(
            f"run directory {run_dir} already exists",
            "pass --resume to continue it, or choose another --out",
        )
    parent = run_dir if run_dir.exists() else run_dir.parent
    while not parent.exists():
        parent = parent.parent
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise HybenchError(
            f"output directory {parent} is not writable ({exc.strerror})",
            "choose a writable --out",
        ) from exc


def _check_resume_matches(plan: RunPlan) -> None:
    stored = json.loads((plan.run_dir / "run.json").read_text())
    for name, info in stored.get("datasets", {}).items():
        for seed, fp in info.get("split_fingerprints", {}).items():
            key = (name, int(seed))
            if key in plan.splits and plan.splits[key].fingerprint() != fp:
                raise HybenchError(
                    f"cannot resume {plan.run_dir}: {name} seed {seed} now splits differently",
                    "resume with the same dataset, seeds and split options, or use a new --out",
                )


def _dataset_info(plan: RunPlan, name: str) -> dict:
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


def write_run_metadata(plan: RunPlan, static: dict, feature_log: dict[str, dict]) -> None:
    """(Re)write ``run.json``: ``static`` holds what does not change during the run."""
    previous = plan.run_dir / "run.json"
    created = None
    if previous.exists():
        created = json.loads(previous.read_text()).get("created_at")
    write_json_atomic(
        previous,
        {
            "created_at": created or now_iso(),
            "updated_at": now_iso(),
            **static,
            "features": feature_log,
            "cells": len(plan.cells),
        },
    )


def _store_arrays(dataset: Dataset, root: Path) -> tuple[Path, Path]:
    """Dataset arrays on disk once (children memory-map them)."""
    folder = root / "datasets" / dataset.fingerprint()
    paths = folder / "images.npy", folder / "labels.npy"
    for path, array in zip(paths, (dataset.images, dataset.labels), strict=True):
        if not path.exists():
            save_npy_atomically(path, array)
    return paths


def execute(
    plan: RunPlan,
    *,
    executor: Executor | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> Path:
    """Run every pending cell; returns the run directory."""
    config, run_dir = plan.config, plan.run_dir
    (run_dir / "splits").mkdir(parents=True, exist_ok=True)
    for (name, seed), split in plan.splits.items():
        split.save(run_dir / "splits" / f"{name}-seed{seed}.npz")
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_root()
    feature_cache = FeatureCache(cache_root / "features")
    records_path = run_dir / "records.jsonl"
    feature_log: dict[str, dict] = {}
    static = {
        "config": plan.config.to_dict(),
        "datasets": {name: _dataset_info(plan, name) for name in plan.datasets},
        "machine": machine_info(),
        "packages": package_versions(),
        "git": git_commit(),
        "reference_workload": {"name": REFERENCE_WORKLOAD, "seconds": reference_workload_seconds()},
    }
    write_run_metadata(plan, static, feature_log)

    def finish(record: dict) -> None:
        append_record(records_path, record)
        if on_progress:
            on_progress(record)

    arrays = {name: _store_arrays(dataset, cache_root) for name, dataset in plan.datasets.items()}
    tasks: list[CellTask] = []
    features: dict[tuple[str, str], tuple[Path | None, float] | Exception] = {}
    for cell in plan.pending:
        task = _make_task(plan, cell, arrays, feature_cache, features, feature_log)
        if isinstance(task, dict):
            finish(task)
        else:
            tasks.append(task)
    write_run_metadata(plan, static, feature_log)

    def on_result(task: CellTask, outcome: Outcome) -> None:
        status, payload = outcome
        if status == "ok":
            finish(payload)  # type: ignore[arg-type]
        else:
            record = base_record(task, status, str(payload))
            record["finished_at"] = now_iso()
            finish(record)

    (executor or LocalExecutor(config.jobs, config.timeout)).run(tasks, on_result)
    return run_dir


def _make_task(plan, cell, arrays, feature_cache, features, feature_log):
    """A CellTask, or a finished record for cells that need no process (n/a, skipped, error)."""
    config, dataset = plan.config, plan.datasets[cell.dataset]
    split = plan.splits[cell.dataset, cell.seed]
    spec = get_model(cell.model)
    params = config.params_for(spec.features, spec.feature_params)
    images_path, labels_path = arrays[cell.dataset]
    probe = CellTask(
        dataset=cell.dataset,
        dataset_fingerprint=dataset.fingerprint(),
        class_names=dataset.class_names,
        model=cell.model,
        imbalance=cell.imbalance,
        seed=cell.seed,
        images_path=images_path,
        labels_path=labels_path,
        split_path=plan.run_dir / "splits" / f"{cell.dataset}-seed{cell.seed}.npz",
        split_fingerprint=split.fingerprint(),
        feature_name=spec.features,
        feature_params=params,
        features_path=None,
        feature_seconds=0.0,
        model_options=config.options_for(spec.family, cell.model),
        plugins=tuple(config.plugins),
        threads=max(1, (os.cpu_count() or 1) // config.jobs),
    )
    if not spec.supports(cell.imbalance):
        return _finished(probe, "not_applicable", spec.unsupported_reason(cell.imbalance))
    try:
        feature = get_feature(spec.features, **params)
    except ResourceUnavailable as exc:
        return _finished(probe, "skipped", str(exc))
    key = (dataset.fingerprint(), feature.key())
    if key not in features:
        features[key] = _compute_feature(feature, dataset, feature_cache, feature_log)
    computed = features[key]
    if isinstance(computed, Exception):
        status = "skipped" if isinstance(computed, ResourceUnavailable) else "error"
        return _finished(probe, status, f"feature {feature.name}: {computed}")
    path, seconds = computed
    return dataclasses.replace(
        probe,
        feature_params=feature.params,
        features_path=path,
        feature_seconds=seconds,
        log_path=plan.run_dir / "logs" / probe.log_name,
    )


def _compute_feature(feature, dataset, feature_cache, feature_log):
    if not feature.cacheable:
        return None, 0.0
    try:
        _, seconds, hit = feature_cache.get_or_compute(
            feature, dataset.fingerprint(), dataset.images
        )
    except Exception as exc:  # recorded on every cell that needs this feature
        return exc
    feature_log[f"{dataset.name}/{feature.key()}"] = {"seconds": seconds, "cache_hit": hit}
    return feature_cache.path_for(feature, dataset.fingerprint()), seconds


def _finished(task: CellTask, status: str, reason: str) -> dict:
    record = base_record(task, status, reason)
    record["finished_at"] = now_iso()
    return record


def run(
    config: RunConfig,
    *,
    resume: bool = False,
    executor: Executor | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> Path:
    """Plan (validating everything) and execute."""
    return execute(plan_run(config, resume=resume), executor=executor, on_progress=on_progress)
