"""Built-in image features: raw pixels, HOG and the identity ``image``."""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray

from hybench.features.hog_batch import hog_batch
from hybench.features.registry import register_feature


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


@register_feature("hog", defaults=HOG_DEFAULTS, libraries=("numpy", "scikit-image"))
def hog(
    images: np.ndarray,
    *,
    orientations: int,
    pixels_per_cell: int,
    cells_per_block: int,
    block_norm: str,
) -> np.ndarray:
    """Histogram of oriented gradients of each (grayscale) image, as float32 rows: the descriptors
    of ``skimage.feature.hog``, computed for the whole batch at once by :func:`hog_batch`."""
    return hog_batch(
        to_gray(images),
        orientations=orientations,
        pixels_per_cell=pixels_per_cell,
        cells_per_block=cells_per_block,
        block_norm=block_norm,
        dtype=np.float32,
    )


@register_feature("image", cacheable=False)
def image(images: np.ndarray) -> np.ndarray:
    """The raw uint8 images, unchanged (for entries that preprocess inside the model)."""
    return images


def to_gray(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 1|3)`` uint8 -> ``(N, H, W)`` float in [0, 1]."""
    if images.shape[-1] == 3:
        return rgb2gray(images)
    return images[..., 0].astype(np.float64) / 255.0
