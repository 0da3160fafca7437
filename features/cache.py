"""On-disk cache of computed features: ``<root>/<dataset fingerprint>/<feature key>.npy``."""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from features.base import Feature
from features.image import compute_features


def default_cache_root() -> Path:
    """The cache root (features in ``features/``, dataset arrays in ``datasets/``):
    ``$HYBENCH_CACHE_DIR`` if set, else ``~/.cache/hybench``."""
    env = os.environ.get("HYBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hybench"


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
        save_npy_atomically(path, values)
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


def save_npy_atomically(path: Path, values: np.ndarray) -> None:
    """Write ``values`` as .npy via a temp file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, values, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
