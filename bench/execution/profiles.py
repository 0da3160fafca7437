"""Run profiles: which entries run, with which imbalance strategies and training budgets.

A profile is a list of blocks (model globs × imbalance strategies) plus per-family model options
and feature parameters. ``--models`` / ``--imbalance`` replace the blocks' globs / strategies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hybench.errors import HybenchError

CLASSICAL_IMBALANCE = ("none", "class-weight", "smote")


@dataclass(frozen=True)
class MatrixBlock:
    """Model globs x imbalance strategies; ``supported_only`` drops not-applicable pairs."""

    models: tuple[str, ...]
    imbalance: tuple[str, ...]
    supported_only: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    blocks: tuple[MatrixBlock, ...]
    model_options: dict[str, dict] = field(default_factory=dict)  # by family or model name
    feature_params: dict[str, dict] = field(default_factory=dict)


SEED_CNNS = ("seed000-*", "seed001-*", "seed002-*", "seed004-cnn-bn", "seed004-mnist-like")

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="fast classical entries + two CNNs (a few minutes on 2 cores)",
        blocks=(
            MatrixBlock(("pixels-logreg", "hog-logreg", "hog-rf", "hog-knn"), CLASSICAL_IMBALANCE),
            MatrixBlock(("resnet-small",), ("class-weight",)),
            # on the 3 % class of the small synthetic set, seed CNNs collapse to one class
            # with none/class-weight; oversampling with augmentation (seed 001's approach) works
            MatrixBlock(("seed004-mnist-like",), ("oversample",)),
        ),
        model_options={"cnn": {"epochs": 10, "batch_size": 64, "patience": 5}},
    ),
    "standard": Profile(
        name="standard",
        description="all classical cells, every seed CNN, the strong CNN, MobileNet-0.25 heads",
        blocks=(
            MatrixBlock(("pixels-*", "hog-*"), CLASSICAL_IMBALANCE),
            MatrixBlock(SEED_CNNS, ("none",)),
            MatrixBlock(("resnet-small",), ("none", "class-weight", "oversample")),
            MatrixBlock(("mobilenet-0.25-*",), CLASSICAL_IMBALANCE),
        ),
        model_options={
            "cnn": {"epochs": 10, "batch_size": 128, "patience": 3},
            "resnet-small": {"epochs": 20, "batch_size": 64, "patience": 8},
        },
        feature_params={"embed-mobilenet-0.25": {"input_size": 96}},
    ),
    "full": Profile(
        name="full",
        description="every registered entry with every strategy it supports",
        blocks=(MatrixBlock(("*",), ("none", "class-weight", "smote", "oversample"), True),),
        model_options={"cnn": {"epochs": 30, "batch_size": 64, "patience": 8}},
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise HybenchError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}")
    return PROFILES[name]
