"""Run profiles: which entries run, with which imbalance strategies and training budgets.

A profile is a list of blocks (model globs × imbalance strategies) plus per-family model options
and feature parameters. ``--models`` / ``--imbalance`` replace the blocks' globs / strategies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.errors import HybenchError

CLASSICAL_IMBALANCE = ("none", "class-weight", "smote")


@dataclass(frozen=True)
class Block:
    models: tuple[str, ...]
    imbalance: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    blocks: tuple[Block, ...]
    model_options: dict[str, dict] = field(default_factory=dict)
    feature_params: dict[str, dict] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="a few fast classical entries (minutes on 2 cores)",
        blocks=(
            Block(
                ("pixels-logreg", "hog-logreg", "hog-rf", "hog-xgb", "hog-knn"), CLASSICAL_IMBALANCE
            ),
        ),
    ),
    "standard": Profile(
        name="standard",
        description="every classical entry",
        blocks=(Block(("pixels-*", "hog-*"), CLASSICAL_IMBALANCE),),
    ),
    "full": Profile(
        name="full",
        description="every registered entry",
        blocks=(Block(("*",), CLASSICAL_IMBALANCE),),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise HybenchError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}")
    return PROFILES[name]
