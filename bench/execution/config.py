"""Run configuration: built-in defaults < profile < TOML file < CLI flags."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hybench.errors import HybenchError
from hybench.execution.profiles import MatrixBlock, get_profile
from hybench.models import IMBALANCE_STRATEGIES

PATH_KEYS = ("data_dir", "cache_dir", "out")
EXECUTORS = ("local", "ray")
RESOURCE_KEYS = ("num_cpus", "memory_gb")


@dataclass
class RunConfig:
    """Everything that defines a run (stored in ``run.json``; ``--resume`` reuses it)."""

    datasets: list[str] = field(default_factory=lambda: ["synthetic-cxr"])
    models: list[str] | None = None  # None: the profile's blocks
    imbalance: list[str] | None = None  # None: the profile's strategies
    seeds: list[int] = field(default_factory=lambda: [0])
    profile: str = "quick"
    data_dir: str | None = None
    image_size: int | None = None
    channels: int | None = None
    dataset_options: dict[str, dict] = field(default_factory=dict)
    split: list[float] = field(default_factory=lambda: [0.7, 0.1, 0.2])
    resplit: bool = False
    val_fraction: float = 0.1  # of train, when an official split has no val part
    timeout: float | None = 1800.0
    jobs: int = 1
    executor: str = "local"  # local | ray
    ray_address: str | None = None  # None: a local Ray instance; "auto" or HOST:PORT: a cluster
    ray_retries: int = 1  # reruns of a cell whose Ray worker or node died
    ray_resources: dict[str, dict] = field(default_factory=dict)  # [family/model]: cpus, memory
    out: str | None = None
    plugins: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    feature_params: dict[str, dict] = field(default_factory=dict)
    model_options: dict[str, dict] = field(default_factory=dict)

    def blocks(self) -> list[MatrixBlock]:
        """The (model globs × strategies) blocks this config runs."""
        profile = get_profile(self.profile)
        if self.models is not None:
            strategies = self.imbalance or ["none"]
            return [MatrixBlock(tuple(self.models), tuple(strategies))]
        return [
            MatrixBlock(b.models, tuple(self.imbalance or b.imbalance), b.supported_only)
            for b in profile.blocks
        ]

    def options_for(self, family: str, model: str) -> dict:
        """Model options by family then by model name: the profile's, then the config's."""
        layers = (get_profile(self.profile).model_options, self.model_options)
        merged: dict = {}
        for options in layers:
            merged |= options.get(family, {})
            merged |= options.get(model, {})
        return merged

    def params_for(self, feature: str, entry_params: dict) -> dict:
        """Feature params: the entry's own, then the profile's, then the config's."""
        profile = get_profile(self.profile)
        return {
            **entry_params,
            **profile.feature_params.get(feature, {}),
            **self.feature_params.get(feature, {}),
        }

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        get_profile(self.profile)
        bad = [s for s in self.imbalance or [] if s not in IMBALANCE_STRATEGIES]
        if bad:
            raise HybenchError(
                f"unknown imbalance strategy {bad[0]!r}",
                f"use any of {', '.join(IMBALANCE_STRATEGIES)}",
            )
        if not self.seeds:
            raise HybenchError("no seeds given", "pass e.g. --seeds 0,1,2")
        if self.jobs < 1:
            raise HybenchError(f"--jobs must be >= 1, got {self.jobs}", "pass --jobs 1 or more")
        if self.executor not in EXECUTORS:
            raise HybenchError(f"unknown executor {self.executor!r}",
                               f"use {' or '.join(EXECUTORS)}")
        if self.ray_retries < 0:
            raise HybenchError(f"ray_retries must be >= 0, got {self.ray_retries}",
                               "pass 0 (no retry) or more")
        for name, table in self.ray_resources.items():
            _check_resources(name, table)
        if self.timeout is not None and self.timeout <= 0:
            raise HybenchError(f"--timeout must be > 0, got {self.timeout}", "pass seconds > 0")
        if not 0 < self.val_fraction < 1:
            raise HybenchError(
                f"--val-fraction must be between 0 and 1, got {self.val_fraction}",
                "pass e.g. --val-fraction 0.1",
            )
        if self.channels not in (None, 1, 3):
            raise HybenchError(
                f"--channels must be 1 or 3, got {self.channels}",
                "pass --channels 1 (gray) or 3 (RGB)",
            )


def _check_resources(name: str, table: dict) -> None:
    unknown = sorted(set(table) - set(RESOURCE_KEYS))
    if unknown:
        raise HybenchError(f"ray_resources.{name}: unknown key(s) {', '.join(unknown)}",
                           f"known keys: {', '.join(RESOURCE_KEYS)}")
    for key, value in table.items():
        if not _KINDS["a number"](value) or value <= 0:
            raise HybenchError(f"ray_resources.{name}.{key} must be a number > 0, got {value!r}",
                               "fix that value")


_KINDS = {
    "a string": lambda v: isinstance(v, str),
    "an integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "a number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "true or false": lambda v: isinstance(v, bool),
}
SCHEMA: dict[str, tuple[str, str]] = {  # key: (shape, kind); shape: value | list | tables
    "datasets": ("list", "a string"),
    "models": ("list", "a string"),
    "imbalance": ("list", "a string"),
    "seeds": ("list", "an integer"),
    "profile": ("value", "a string"),
    "data_dir": ("value", "a string"),
    "image_size": ("value", "an integer"),
    "channels": ("value", "an integer"),
    "dataset_options": ("tables", ""),
    "split": ("list", "a number"),
    "resplit": ("value", "true or false"),
    "val_fraction": ("value", "a number"),
    "timeout": ("value", "a number"),
    "jobs": ("value", "an integer"),
    "executor": ("value", "a string"),
    "ray_address": ("value", "a string"),
    "ray_retries": ("value", "an integer"),
    "ray_resources": ("tables", ""),
    "out": ("value", "a string"),
    "plugins": ("list", "a string"),
    "cache_dir": ("value", "a string"),
    "feature_params": ("tables", ""),
    "model_options": ("tables", ""),
}
assert set(SCHEMA) == {f.name for f in fields(RunConfig)}


def _check_type(where: str, value: Any, shape: str, kind: str) -> None:
    """One-line error naming the key's path when a TOML value has the wrong type."""
    if shape == "value":
        ok, wanted, example = _KINDS[kind](value), kind, ""
    elif shape == "list":
        ok = isinstance(value, list) and all(_KINDS[kind](v) for v in value)
        wanted = f"a list of {kind.split(' ', 1)[1]}s"
        example = " (write e.g. [0, 1] or [\"a\"], even for one value)"
    else:
        ok = isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
        wanted, example = "tables", " (write [KEY.NAME] sections of options)"
    if not ok:
        raise HybenchError(f"{where} must be {wanted}, got {value!r}", f"fix that value{example}")


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML matrix file into RunConfig keys; relative paths resolve beside the file."""
    if not path.is_file():
        raise HybenchError(f"config file not found: {path}", "pass an existing .toml file")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HybenchError(
            f"config file {path} is not valid TOML: {exc}", "fix the syntax"
        ) from exc
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise HybenchError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}",
            f"known keys: {', '.join(sorted(SCHEMA))}",
        )
    for key, value in raw.items():
        _check_type(f"config file {path}: {key}", value, *SCHEMA[key])
    base = path.resolve().parent
    for key in PATH_KEYS:
        if isinstance(raw.get(key), str):
            raw[key] = str((base / raw[key]).resolve())
    if "plugins" in raw:
        raw["plugins"] = [str((base / p).resolve()) for p in raw["plugins"]]
    return raw


def build_config(*layers: dict[str, Any]) -> RunConfig:
    """Apply layers of overrides in order; ``None`` values in a layer mean "not given"."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    try:
        config = RunConfig(**merged)
    except TypeError as exc:
        raise HybenchError(f"invalid configuration: {exc}", "check the config keys") from exc
    config.validate()
    return config
