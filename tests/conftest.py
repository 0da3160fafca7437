"""Shared fixtures: where ../shared is, an isolated cache, and a small real run directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HYBENCH_SHARED", REPO.parent / "shared"))
PNEUMONIA_NPZ = SHARED / "data" / "pneumoniamnist.npz"
MOBILENET_H5 = SHARED / "weights" / "mobilenet_2_5_224_tf_no_top.h5"

requires_pneumonia = pytest.mark.skipif(
    not PNEUMONIA_NPZ.exists(),
    reason=f"real PneumoniaMNIST not found at {PNEUMONIA_NPZ} (CI provides ../shared)",
)
requires_mobilenet = pytest.mark.skipif(
    not MOBILENET_H5.exists(),
    reason=f"shared MobileNet weights not found at {MOBILENET_H5} (CI provides ../shared)",
)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep tests out of the user's ~/.cache/hybench and ~/.keras."""
    root = tmp_path_factory.mktemp("hybench-cache")
    os.environ["HYBENCH_CACHE_DIR"] = str(root)
    os.environ.setdefault("KERAS_HOME", str(root / "keras"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return root


SMALL_RUN_CONFIG = """
datasets = ["synthetic-cxr"]
models = ["pixels-logreg", "hog-logreg", "hog-knn"]
imbalance = ["none", "class-weight"]
seeds = [0, 1]
jobs = 2
timeout = 300

[dataset_options.synthetic-cxr]
n = 600
"""


@pytest.fixture(scope="session")
def small_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `hybench run` on synthetic data: 3 entries x 2 strategies x 2 seeds (12 cells,
    hog-knn/class-weight recorded not applicable). Treat as read-only; copy to modify."""
    from hybench.cli import main

    base = tmp_path_factory.mktemp("small-run")
    config = base / "matrix.toml"
    config.write_text(SMALL_RUN_CONFIG)
    run_dir = base / "run"
    assert main(["run", "--config", str(config), "--out", str(run_dir), "--quiet"]) == 0
    return run_dir
