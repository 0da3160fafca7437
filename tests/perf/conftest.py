"""Deterministic benchmark inputs, built on first use so collection stays free of TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

N_IMAGES = 1000
IMAGE_SIZE = 28


@pytest.fixture(scope="session")
def cxr():
    """``N_IMAGES`` synthetic chest X-rays of 28 px (``hybench.data.Dataset``), fixed seed."""
    from hybench.data import load_dataset

    return load_dataset("synthetic-cxr", n=N_IMAGES, size=IMAGE_SIZE, seed=0)


@pytest.fixture(scope="session")
def cxr_images(cxr) -> np.ndarray:
    """The ``(N_IMAGES, 28, 28, 1)`` uint8 images of :func:`cxr`."""
    return cxr.images


@pytest.fixture(scope="session")
def binary_labels(cxr) -> np.ndarray:
    """Healthy (0) vs any finding (1), as in a binary X-ray task."""
    return (cxr.labels > 0).astype(np.int64)


@pytest.fixture(scope="session")
def hog_rows(cxr_images: np.ndarray) -> np.ndarray:
    """Default HOG descriptors of :func:`cxr_images` (the classical entries' inputs)."""
    from hybench.features import get_feature

    return get_feature("hog").transform(cxr_images)
