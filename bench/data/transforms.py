"""Image-array conversions shared by every loader (and by models that need other input sizes)."""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

from hybench.errors import HybenchError

# ITU-R BT.709 luma weights, the same ones skimage.color.rgb2gray uses.
_LUMA = np.array([0.2125, 0.7154, 0.0721])


def add_channel_axis(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` -> ``(N, H, W, 1)``; any other shape is returned unchanged."""
    return images[..., np.newaxis] if images.ndim == 3 else images


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize one ``(H, W)`` or ``(H, W, C)`` uint8 image to ``(size, size[, C])`` uint8."""
    if image.shape[:2] == (size, size):
        return image
    out_shape = (size, size, *image.shape[2:])
    resized = resize(image, out_shape, order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W, C)`` uint8 images to ``(N, size, size, C)`` with anti-aliasing."""
    check_size(size)
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, *images.shape[3:]), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = resize_image(image, size)
    return out


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Convert ``(N, H, W, 1|3)`` uint8 images to ``channels`` (1 = gray, 3 = RGB)."""
    if channels not in (1, 3):
        raise HybenchError(f"channels must be 1 or 3, got {channels!r}", "pass --channels 1 or 3")
    current = images.shape[-1]
    if current == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    gray = images.astype(np.float64) @ _LUMA
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., np.newaxis]


def check_size(size: int) -> int:
    """Return ``size`` if it is a usable image side length, else raise a one-line error."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 8 <= size <= 1024:
        raise HybenchError(
            f"image size must be an integer from 8 to 1024, got {size!r}",
            "pass e.g. --image-size 64",
        )
    return int(size)
