"""Turn planned cells into :class:`CellTask` s: dataset arrays and cached features on disk once,
paths handed to the isolated cell processes."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from hybench.data import Dataset
from hybench.errors import ResourceUnavailable
from hybench.execution.cell import CellTask, finished_record
from hybench.execution.planning import MatrixCell, RunPlan
from hybench.features import Feature, get_feature
from hybench.features.cache import FeatureCache
from hybench.models import get_model
from hybench.storage import save_npy_atomic


def store_arrays(dataset: Dataset, cache_root: Path) -> tuple[Path, Path]:
    """Dataset arrays on disk once per dataset fingerprint (children memory-map them)."""
    folder = cache_root / "datasets" / dataset.fingerprint()
    paths = folder / "images.npy", folder / "labels.npy"
    for path, array in zip(paths, (dataset.images, dataset.labels), strict=True):
        if not path.exists():
            save_npy_atomic(path, array)
    return paths


class TaskFactory:
    """Builds the task of each pending cell, computing every (dataset, feature) at most once.

    ``feature_log`` collects the seconds and cache hit of each computed feature for ``run.json``.
    """

    def __init__(self, plan: RunPlan, cache_root: Path):
        self.plan = plan
        self.feature_cache = FeatureCache(cache_root / "features")
        self.arrays = {name: store_arrays(d, cache_root) for name, d in plan.datasets.items()}
        self.feature_log: dict[str, dict] = {}
        self._features: dict[tuple[str, str], tuple[Path | None, float] | Exception] = {}

    def build(self, cell: MatrixCell) -> CellTask | dict:
        """The cell's task, or a finished record when it needs no process (n/a, skipped, error)."""
        plan, config = self.plan, self.plan.config
        dataset = plan.datasets[cell.dataset]
        spec = get_model(cell.model)
        params = config.params_for(spec.features, spec.feature_params)
        images_path, labels_path = self.arrays[cell.dataset]
        probe = CellTask(
            dataset=cell.dataset,
            dataset_fingerprint=dataset.fingerprint(),
            class_names=dataset.class_names,
            model=cell.model,
            imbalance=cell.imbalance,
            seed=cell.seed,
            images_path=images_path,
            labels_path=labels_path,
            split_path=plan.run_dir.split_path(cell.dataset, cell.seed),
            split_fingerprint=plan.splits[cell.dataset, cell.seed].fingerprint(),
            feature_name=spec.features,
            feature_params=params,
            features_path=None,
            feature_seconds=0.0,
            model_options=config.options_for(spec.family, cell.model),
            plugins=tuple(config.plugins),
            threads=max(1, (os.cpu_count() or 1) // config.jobs),
            # multi-threaded BLAS sums in another order and lbfgs & co. amplify it: one BLAS
            # thread keeps classical results the same for every --jobs and executor
            blas_threads=1 if spec.family == "classical" else None,
        )
        if not spec.supports(cell.imbalance):
            return finished_record(probe, "not_applicable", spec.unsupported_reason(cell.imbalance))
        try:
            feature = get_feature(spec.features, **params)
        except ResourceUnavailable as exc:
            return finished_record(probe, "skipped", str(exc))
        computed = self._feature(feature, dataset)
        if isinstance(computed, Exception):
            status = "skipped" if isinstance(computed, ResourceUnavailable) else "error"
            return finished_record(probe, status, f"feature {feature.name}: {computed}")
        path, seconds = computed
        return dataclasses.replace(
            probe,
            feature_params=feature.params,
            features_path=path,
            feature_seconds=seconds,
            log_path=plan.run_dir.log_path(probe.cell_id),
        )

    def _feature(self, feature: Feature, dataset: Dataset) -> tuple[Path | None, float] | Exception:
        key = (dataset.fingerprint(), feature.key())
        if key not in self._features:
            self._features[key] = self._compute(feature, dataset)
        return self._features[key]

    def _compute(self, feature: Feature, dataset: Dataset) -> tuple[Path | None, float] | Exception:
        if not feature.cacheable:
            return None, 0.0
        try:
            _, seconds, hit = self.feature_cache.get_or_compute(
                feature, dataset.fingerprint(), dataset.images
            )
        except Exception as exc:  # recorded on every cell that needs this feature
            return exc
        self.feature_log[f"{dataset.name}/{feature.key()}"] = {"seconds": seconds, "cache_hit": hit}
        return self.feature_cache.path_for(feature, dataset.fingerprint()), seconds
