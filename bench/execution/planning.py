"""Plan a run: validate everything and list its cells, writing nothing.

All input is checked here, before the run directory is created, so bad input leaves nothing
behind. With ``resume``, cells whose latest record is finished are marked done.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hybench.data import Dataset, SplitPlan, load_dataset, make_split_plan
from hybench.errors import HybenchError, ResourceUnavailable
from hybench.execution.config import RunConfig
from hybench.features import get_feature
from hybench.models import get_model, load_plugins, resolve_models
from hybench.results.records import FINISHED, cell_id, latest_by_cell
from hybench.results.run_dir import RunDirectory


@dataclass(frozen=True)
class MatrixCell:
    """One cell of the matrix: (dataset, model entry, imbalance strategy, seed)."""

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
    run_dir: RunDirectory
    datasets: dict[str, Dataset]
    splits: dict[tuple[str, int], SplitPlan]
    cells: list[MatrixCell]
    done: set[str] = field(default_factory=set)

    @property
    def pending(self) -> list[MatrixCell]:
        return [c for c in self.cells if c.id not in self.done]


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.datasets[0]}-{config.profile}-{stamp}"


def plan_run(config: RunConfig, *, resume: bool = False) -> RunPlan:
    """Validate the whole matrix without writing anything."""
    load_plugins(config.plugins)
    run_dir = RunDirectory(config.out or default_run_dir(config))
    _check_output_dir(run_dir.path, resume)
    blocks = [(b, resolve_models(b.models)) for b in config.blocks()]
    for _, models in blocks:
        for model in models:
            _check_feature(config, model)
    datasets, splits = {}, {}
    for spec in config.datasets:
        dataset = load_dataset(
            spec,
            data_dir=config.data_dir,
            cache_dir=config.cache_dir,
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
                        cell = MatrixCell(name, model, imbalance, seed)
                        if block.supported_only and not get_model(model).supports(imbalance):
                            continue
                        if cell not in cells:
                            cells.append(cell)
    plan = RunPlan(config, run_dir, datasets, splits, cells)
    if resume and run_dir.has_meta():
        _check_resume_matches(plan)
        plan.done = {
            cid for cid, r in latest_by_cell(run_dir.records()).items() if r["status"] in FINISHED
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


DATA_KEYS = ("image_size", "channels", "dataset_options", "split", "resplit")  # every cell's data


def _check_resume_matches(plan: RunPlan) -> None:
    """Refuse to resume with other data, other splits, or options that change the result of an
    entry that already has finished cells (options of entries not run yet may change)."""
    stored = plan.run_dir.read_meta()
    where = f"cannot resume {plan.run_dir.path}"
    fix = "resume with the run's own data and options, or use a new --out"
    config = plan.config.to_dict()
    for key in DATA_KEYS:
        before = (stored.get("config") or {}).get(key)
        if key in (stored.get("config") or {}) and before != config[key]:
            raise HybenchError(f"{where}: {key} was {before!r}, now {config[key]!r}", fix)
    for name, info in stored.get("datasets", {}).items():
        if name in plan.datasets and info.get("dataset_fingerprint") not in (
            None, plan.datasets[name].fingerprint()
        ):
            raise HybenchError(
                f"{where}: dataset {name} now holds different data (fingerprint "
                f"{plan.datasets[name].fingerprint()}, stored {info['dataset_fingerprint']})", fix,
            )
        for seed, fp in info.get("split_fingerprints", {}).items():
            key = (name, int(seed))
            if key in plan.splits and plan.splits[key].fingerprint() != fp:
                raise HybenchError(f"{where}: {name} seed {seed} now splits differently", fix)
    planned = {(cell.dataset, cell.model, cell.imbalance) for cell in plan.cells}
    for record in latest_by_cell(plan.run_dir.records()).values():
        if record["status"] != "ok" or (
            record["dataset"], record["model"], record["imbalance"]) not in planned:
            continue
        spec = get_model(record["model"])
        now = {
            "model_options": plan.config.options_for(spec.family, spec.name),
            "feature_params": plan.config.params_for(spec.features, spec.feature_params),
        }
        stored_params = {k: record["feature_params"].get(k) for k in now["feature_params"]}
        before = {"model_options": record.get("model_options"), "feature_params": stored_params}
        for key, value in now.items():
            if before[key] != value:
                raise HybenchError(
                    f"{where}: {record['cell_id']} finished with {key} {before[key]}, "
                    f"now {value}", fix,
                )
