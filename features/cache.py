"""Computing features for a dataset: batched over cores, and stored once per (dataset, feature)
in ``<root>/<dataset fingerprint>/<feature key>.npy``."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from hybench.features.registry import Feature
from hybench.storage import save_npy_atomic


def compute_features(
    feature: Feature, images: np.ndarray, *, n_jobs: int = -1, batch_size: int = 256
) -> np.ndarray:
    """Apply ``feature`` to ``images`` in batches over ``n_jobs`` processes, keeping row order.

    A feature registered with ``parallel=False`` (e.g. a TensorFlow network, which parallelises
    itself) runs in-process.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    starts = range(0, len(images), batch_size)
    if len(starts) <= 1 or n_jobs == 1 or not feature.spec.parallel:
        return feature.transform(images)
    parts = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(feature.transform)(images[start : start + batch_size]) for start in starts
    )
    return np.concatenate(parts, axis=0)


class FeatureCache:
    """Compute each (dataset, feature) once; later runs load the stored array."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, feature: Feature, dataset_fingerprint: str) -> Path:
        return self.root / dataset_fingerprint / f"{feature.key()}.npy"

    def get_or_compute(
        self, feature: Feature, dataset_fingerprint: str, images: np.ndarray, *, n_jobs: int = -1
    ) -> tuple[np.ndarray, float, bool]:
        """``(features, seconds spent, cache_hit)``; non-cacheable features are never stored."""
        start = time.perf_counter()
        if not feature.cacheable:
            return compute_features(feature, images, n_jobs=n_jobs), _since(start), False
        path = self.path_for(feature, dataset_fingerprint)
        cached = _load(path, expected_rows=len(images))
        if cached is not None:
            return cached, _since(start), True
        values = compute_features(feature, images, n_jobs=n_jobs)
        save_npy_atomic(path, values)
        return values, _since(start), False


def _since(start: float) -> float:
    return time.perf_counter() - start


def _load(path: Path, expected_rows: int) -> np.ndarray | None:
    """The stored array, or None when absent or unreadable (which triggers a recompute)."""
    if not path.exists():
        return None
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
        if values.ndim == 0 or len(values) != expected_rows:
            raise ValueError(f"it holds shape {values.shape} for {expected_rows} images")
    except (OSError, ValueError, EOFError) as exc:
        warnings.warn(f"feature cache file {path} is unusable ({exc}); recomputing", stacklevel=3)
        return None
    return values
