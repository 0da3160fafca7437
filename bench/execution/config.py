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
    timeout: float | None = 1800.0
    jobs: int = 1
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
        if self.timeout is not None and self.timeout <= 0:
            raise HybenchError(f"--timeout must be > 0, got {self.timeout}", "pass seconds > 0")
        if self.channels not in (None, 1, 3):
            raise HybenchError(
                f"--channels must be 1 or 3, got {self.channels}",
                "pass --channels 1 (gray) or 3 (RGB)",
            )


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
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise HybenchError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}",
            f"known keys: {', '.join(sorted(known))}",
        )
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
