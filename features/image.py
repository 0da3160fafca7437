"""Built-in image features (raw pixels, HOG, identity) and a batched, multi-core runner."""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from skimage.color import rgb2gray
from skimage.feature import hog as skimage_hog

from features.base import Feature, register_feature


@register_feature("pixels")
def pixels(images: np.ndarray) -> np.ndarray:
    """Flatten each image to a float32 vector scaled to [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


HOG_DEFAULTS = {
    "orientations": 9,
    "pixels_per_cell": 4,
    "cells_per_block": 2,
    "block_norm": "L2-Hys",
}


@register_feature("hog", defaults=HOG_DEFAULTS)
def hog(
    images: np.ndarray,
    *,
    orientations: int,
    pixels_per_cell: int,
    cells_per_block: int,
    block_norm: str,
) -> np.ndarray:
    """Histogram of oriented gradients of each (grayscale) image, as float32 rows."""
    gray = to_gray(images)
    rows = [
        skimage_hog(
            image,
            orientations=orientations,
            pixels_per_cell=(pixels_per_cell, pixels_per_cell),
            cells_per_block=(cells_per_block, cells_per_block),
            block_norm=block_norm,
            feature_vector=True,
        )
        for image in gray
    ]
    return np.asarray(rows, dtype=np.float32).reshape(len(images), -1)


@register_feature("image", cacheable=False)
def image(images: np.ndarray) -> np.ndarray:
    """The raw uint8 images, unchanged (for entries that preprocess inside the model)."""
    return images


def to_gray(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 1|3)`` uint8 -> ``(N, H, W)`` float in [0, 1]."""
    if images.shape[-1] == 3:
        return rgb2gray(images)
    return images[..., 0].astype(np.float64) / 255.0


def compute_features(
    feature: Feature, images: np.ndarray, *, n_jobs: int = -1, batch_size: int = 256
) -> np.ndarray:
    """Apply ``feature`` to ``images`` in batches over ``n_jobs`` processes, keeping row order.

    A transform that parallelises itself (e.g. a TensorFlow network) opts out of the process pool
    by setting the attribute ``parallel = False`` on its function; it then runs in-process.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    starts = range(0, len(images), batch_size)
    if len(starts) <= 1 or n_jobs == 1 or not getattr(feature.fn, "parallel", True):
        return feature.transform(images)
    parts = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(feature.transform)(images[start : start + batch_size]) for start in starts
    )
    return np.concatenate(parts, axis=0)
