"""Parity of the batch HOG (``hybench.features.hog_batch``) with ``skimage.feature.hog``.

The contract of ``hog_batch`` is this file: for grayscale float64 images, square cells and blocks
and every block_norm, its float64 rows are within 1e-6 (max abs) of scikit-image's descriptors.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import hog as skimage_hog

from hybench.features import get_feature
from hybench.features import hog_batch as hog_batch_module
from hybench.features.hog_batch import BLOCK_NORMS, hog_batch
from hybench.features.image import HOG_DEFAULTS, to_gray
from tests.conftest import PNEUMONIA_NPZ, requires_pneumonia

ATOL = 1e-6
SIZES = [(28, 28), (64, 64), (30, 37), (8, 8)]
# (orientations, pixels_per_cell, cells_per_block): odd cells, 7 bins (bounds 180/7 * k not
# exact), 4/8/12 bins (bounds at 45 and 90 degrees, hit exactly by quantised images)
COMBOS = [(9, 4, 2), (7, 3, 3), (8, 5, 1), (12, 2, 4), (4, 8, 2), (6, 7, 2)]


def skimage_rows(gray: np.ndarray, orientations: int, pixels_per_cell: int,
                 cells_per_block: int, block_norm: str) -> np.ndarray:
    """The reference: scikit-image's ``hog`` of each image, stacked as float64 rows."""
    return np.stack([
        skimage_hog(image, orientations=orientations,
                    pixels_per_cell=(pixels_per_cell, pixels_per_cell),
                    cells_per_block=(cells_per_block, cells_per_block),
                    block_norm=block_norm, feature_vector=True)
        for image in gray
    ])


def assert_parity(gray: np.ndarray, orientations: int, pixels_per_cell: int,
                  cells_per_block: int, block_norm: str) -> None:
    params = dict(orientations=orientations, pixels_per_cell=pixels_per_cell,
                  cells_per_block=cells_per_block, block_norm=block_norm)
    expected = skimage_rows(gray, **params)
    actual = hog_batch(gray, **params, dtype=np.float64)
    assert actual.shape == expected.shape and actual.dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def rng(*seed: int) -> np.random.Generator:
    return np.random.default_rng([20261122, *seed])


def random_images(shape: tuple[int, int], *seed: int, n: int = 4) -> np.ndarray:
    """``n`` uniform float images and ``n`` quantised to k/255 (exact zero, 45 and 90 degree
    gradients, as in real uint8 images)."""
    generator = rng(*shape, *seed)
    uniform = generator.random((n, *shape))
    quantised = generator.integers(0, 256, size=(n, *shape)) / 255.0
    return np.concatenate([uniform, quantised])


def fits(shape: tuple[int, int], pixels_per_cell: int, cells_per_block: int) -> bool:
    return min(shape) // pixels_per_cell >= cells_per_block


@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
@pytest.mark.parametrize(
    ("shape", "combo"),
    [pytest.param(shape, combo, id=f"{shape[0]}x{shape[1]}-o{combo[0]}c{combo[1]}b{combo[2]}")
     for shape in SIZES for combo in COMBOS if fits(shape, combo[1], combo[2])],
)
def test_random_images_match_skimage(shape, combo, block_norm):
    assert_parity(random_images(shape, *combo), *combo, block_norm)


@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
def test_constant_and_axis_aligned_images_match_skimage(block_norm):
    """Zero gradients everywhere (constant images) and gradients at exactly 0, 90 and 180
    degrees (ramps and steps), which sit on bin bounds."""
    ramp = np.linspace(0.0, 1.0, 28)
    step = (np.arange(28) >= 13).astype(np.float64)
    gray = np.stack([
        np.zeros((28, 28)), np.ones((28, 28)), np.full((28, 28), 0.5),
        np.tile(ramp, (28, 1)), np.tile(ramp[::-1], (28, 1)),
        np.tile(ramp[:, None], (1, 28)), np.tile(ramp[::-1, None], (1, 28)),
        np.tile(step, (28, 1)), np.tile(step[:, None], (1, 28)),
        np.add.outer(ramp, ramp) / 2, np.subtract.outer(ramp, ramp) / 2 + 0.5,
    ])
    for orientations in (9, 4, 8):
        assert_parity(gray, orientations, 4, 2, block_norm)
    constant = hog_batch(gray[:3], **HOG_DEFAULTS, dtype=np.float64)
    assert not constant.any()


@requires_pneumonia
@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
def test_real_pneumoniamnist_images_match_skimage(block_norm):
    with np.load(PNEUMONIA_NPZ) as data:
        images = data["train_images"][:300]
    gray = images.astype(np.float64) / 255.0
    assert_parity(gray, 9, 4, 2, block_norm)
    assert_parity(gray[:50], 7, 3, 2, block_norm)


def test_hog_feature_equals_the_per_image_skimage_loop():
    """End to end: the registered ``hog`` feature against the loop it replaces, on uint8
    ``(N, H, W, 1)`` and RGB images, as float32 rows."""
    gray_images = rng(1).integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
    rgb_images = rng(3).integers(0, 256, size=(10, 28, 28, 3), dtype=np.uint8)
    for images in (gray_images, rgb_images):
        for params in (HOG_DEFAULTS, {**HOG_DEFAULTS, "block_norm": "L1", "pixels_per_cell": 7}):
            actual = get_feature("hog", **params).transform(images)
            expected = skimage_rows(to_gray(images), **params).astype(np.float32)
            assert actual.dtype == np.float32 and actual.shape == expected.shape
            np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def test_orientation_degrees_are_skimages_remainder():
    """The written-out ``rad2deg(radians) % 180`` on arctan2's whole range and its edges."""
    edges = [np.pi, -np.pi, 0.0, -0.0, 1e-300, -1e-300, -1e-15, -5e-17, np.pi / 2, -np.pi / 2,
             np.nextafter(np.pi, 0), np.nextafter(-np.pi, 0), -np.pi / 4, 3 * np.pi / 4]
    radians = np.concatenate([edges, rng(0).uniform(-np.pi, np.pi, 100_000)])
    expected = np.rad2deg(radians) % 180
    np.testing.assert_array_equal(hog_batch_module._orientation_degrees(radians), expected)


def test_chunks_give_the_same_rows(monkeypatch):
    """Several chunks, the last one partial, and a non-contiguous input: the same rows."""
    gray = rng(2).integers(0, 256, size=(25, 30, 37)) / 255.0
    whole = hog_batch(gray, **HOG_DEFAULTS, dtype=np.float64)
    monkeypatch.setattr(hog_batch_module, "HOG_CHUNK_PIXELS", 3 * 30 * 37)
    np.testing.assert_array_equal(hog_batch(gray, **HOG_DEFAULTS, dtype=np.float64), whole)
    strided = np.swapaxes(np.swapaxes(gray, 1, 2).copy(), 1, 2)
    np.testing.assert_array_equal(hog_batch(strided, **HOG_DEFAULTS, dtype=np.float64), whole)
    assert hog_batch(gray, **HOG_DEFAULTS).dtype == np.float32


def test_empty_batch_and_invalid_arguments():
    assert hog_batch(np.zeros((0, 28, 28)), **HOG_DEFAULTS).shape == (0, 6 * 6 * 2 * 2 * 9)
    with pytest.raises(ValueError, match="too small"):
        hog_batch(np.zeros((2, 7, 28)), **HOG_DEFAULTS)
    with pytest.raises(ValueError, match="too small"):
        skimage_hog(np.zeros((7, 28)), pixels_per_cell=(4, 4), cells_per_block=(2, 2))
    with pytest.raises(ValueError, match="block normalization"):
        hog_batch(np.zeros((2, 28, 28)), **{**HOG_DEFAULTS, "block_norm": "L3"})
    with pytest.raises(ValueError, match="grayscale"):
        hog_batch(np.zeros((28, 28)), **HOG_DEFAULTS)
