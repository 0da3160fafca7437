"""Plan a run: validate everything and list its cells, writing nothing.

All input is checked here, before the run directory is created, so bad input leaves nothing
behind. With ``resume``, cells whose latest record is finished are marked done.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hybench.data import Dataset, SplitPlan, load_dataset, make_split_plan
from hybench.errors import HybenchError, ResourceUnavailable
from hybench.execution.config import RunConfig
from hybench.execution.ray_executor import require_ray
from hybench.features import get_feature
from hybench.features.registry import FEATURES
from hybench.models import FAMILIES, get_model, load_plugins, resolve_models
from hybench.models.registry import MODELS
from hybench.results.records import FINISHED, cell_id, latest_by_cell
from hybench.results.run_dir import RunDirectory
from hybench.storage import cache_root


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
    """A validated run: loaded datasets, their split plans and the cells still to run.

    ``notes`` are what the run did to the input that the user should know (a validation part
    carved out of train, re-coded labels); the CLI prints them and ``run.json`` keeps them.
    """

    config: RunConfig
    run_dir: RunDirectory
    datasets: dict[str, Dataset]
    splits: dict[tuple[str, int], SplitPlan]
    cells: list[MatrixCell]
    done: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[MatrixCell]:
        return [c for c in self.cells if c.id not in self.done]


def default_run_dir(datasets: dict[str, Dataset], profile: str) -> Path:
    """``runs/<first dataset's name>-<profile>-<UTC time>``, the name reduced to safe characters:
    never inside (or beside) the dataset's own files."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", next(iter(datasets))).strip("-.") or "dataset"
    base = Path("runs") / f"{name}-{profile}-{stamp}"
    path, n = base, 1
    while path.exists():  # two runs started in the same second
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def plan_run(config: RunConfig, *, resume: bool = False) -> RunPlan:
    """Validate the whole matrix without writing anything."""
    if config.executor == "ray":
        require_ray()
    load_plugins(config.plugins)
    _check_tables(config)
    if config.out:
        _check_output_dir(Path(config.out), resume)
    _check_writable(cache_root(config.cache_dir), "cache directory",
                    "pass a writable --cache-dir or set HYBENCH_CACHE_DIR")
    blocks = [(b, resolve_models(b.models)) for b in config.blocks()]
    for _, models in blocks:
        for model in models:
            _check_feature(config, model)
            _check_model_options(config, model)
    datasets = _load_datasets(config)
    run_dir = RunDirectory(config.out or default_run_dir(datasets, config.profile))
    if not config.out:
        _check_output_dir(run_dir.path, resume)
    _check_outside_datasets(run_dir.path, datasets)
    splits, notes = {}, []
    for dataset in datasets.values():
        notes += [f"{dataset.name}: {note}" for note in dataset.meta.get("notes", [])]
        for seed in config.seeds:
            splits[dataset.name, seed] = make_split_plan(
                dataset, seed, fractions=tuple(config.split), resplit=config.resplit,
                val_fraction=config.val_fraction,
            )
        if splits[dataset.name, config.seeds[0]].kind == "official-val-from-train":
            notes.append(
                f"{dataset.name}: the official split has no validation part; "
                f"{config.val_fraction:g} of each class's training images (the same rows for "
                "every seed) are held out for validation (--val-fraction)"
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
    plan = RunPlan(config, run_dir, datasets, splits, cells, notes=notes)
    if resume and run_dir.has_meta():
        _check_resume_matches(plan)
        plan.done = {
            cid for cid, r in latest_by_cell(run_dir.records()).items() if r["status"] in FINISHED
        }
    for name in config.dataset_options:
        if name not in config.datasets:
            raise HybenchError(f"[dataset_options.{name}] names no dataset of this run",
                               f"use one of {', '.join(config.datasets)}")
    return plan


def _load_datasets(config: RunConfig) -> dict[str, Dataset]:
    """Every dataset of the run by name; two different sources under one name are refused."""
    datasets: dict[str, Dataset] = {}
    for spec in dict.fromkeys(config.datasets):
        dataset = load_dataset(
            spec,
            data_dir=config.data_dir,
            cache_dir=config.cache_dir,
            image_size=config.image_size,
            channels=config.channels,
            **config.dataset_options.get(spec, {}),
        )
        other = datasets.get(dataset.name)
        if other is not None:
            raise HybenchError(
                f"datasets {other.source} and {dataset.source} are both named {dataset.name!r}",
                "rename one of the files or folders (a run keys its cells by dataset name)",
            )
        datasets[dataset.name] = dataset
    return datasets


def _check_tables(config: RunConfig) -> None:
    """Every ``[feature_params.X]`` and ``[model_options.X]`` table names something that exists
    (a typo would otherwise be silently ignored)."""
    for name, table in config.feature_params.items():
        _must_exist("feature_params", name, table, FEATURES.__contains__, FEATURES.get)
    for key in ("model_options", "ray_resources"):
        for name, table in getattr(config, key).items():
            if name not in FAMILIES:
                _must_exist(key, name, table, MODELS.__contains__, get_model)


def _must_exist(key: str, name: str, table: dict, known, lookup) -> None:
    """``[key.name]`` names something registered; TOML reads ``[key.a-0.25]`` as ``a-0`` holding
    a table ``25``, so a name cut at a dot gets the quoted spelling as its fix."""
    if known(name):
        return
    dotted = [f"{name}.{sub}" for sub, value in table.items()
              if isinstance(value, dict) and known(f"{name}.{sub}")]
    if dotted:
        raise HybenchError(f"[{key}.{dotted[0]}] was read as [{key}.{name}]: TOML splits names "
                           "at dots", f'quote the name: [{key}."{dotted[0]}"]')
    try:
        lookup(name)
    except HybenchError as exc:
        raise HybenchError(f"[{key}.{name}]: {exc.problem}", exc.fix) from None


def _check_feature(config: RunConfig, model: str) -> None:
    """Unknown feature params fail now; missing resources only skip the cells later."""
    spec = get_model(model)
    with contextlib.suppress(ResourceUnavailable):
        get_feature(spec.features, **config.params_for(spec.features, spec.feature_params))


def _check_model_options(config: RunConfig, model: str) -> None:
    """The merged ``[model_options]`` of an entry are all options it takes."""
    spec = get_model(model)
    try:
        spec.check_options(config.options_for(spec.family, spec.name))
    except HybenchError as exc:
        table = next((t for t in (spec.name, spec.family) if t in config.model_options),
                     f"{spec.family} of profile {config.profile}")
        raise HybenchError(f"[model_options.{table}]: {exc.problem}", exc.fix) from None


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
    _check_writable(run_dir, "output directory", "choose a writable --out")


def _check_writable(path: Path, what: str, fix: str) -> None:
    """``path`` (or its nearest existing parent, where it would be created) accepts files."""
    parent = Path(path).expanduser().absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise HybenchError(f"{what} {path}: {parent} is not a directory", fix)
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise HybenchError(f"{what} {parent} is not writable ({exc.strerror})", fix) from exc


def _check_outside_datasets(run_dir: Path, datasets: dict[str, Dataset]) -> None:
    """hybench never writes inside a dataset folder (the next load would read the run)."""
    out = run_dir.resolve()
    for dataset in datasets.values():
        source = Path(dataset.source)
        if dataset.source and source.is_dir() and out.is_relative_to(source.resolve()):
            raise HybenchError(
                f"run directory {run_dir} is inside dataset folder {source}",
                "choose an --out outside the dataset",
            )


# what every cell's data depends on
DATA_KEYS = ("image_size", "channels", "dataset_options", "split", "resplit", "val_fraction")


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
    before = sorted(stored.get("datasets", {}))
    if before and before != sorted(plan.datasets):
        raise HybenchError(f"{where}: its datasets were {before}, now {sorted(plan.datasets)}",
                           "a run directory holds one dataset matrix; use a new --out and pass "
                           "both run directories to hybench leaderboard")
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
