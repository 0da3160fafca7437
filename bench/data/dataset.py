"""The one in-memory form every dataset source is loaded into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybench.errors import HybenchError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Dataset:
    """uint8 images ``(N, H, W, C)``, integer labels ``(N,)``, class names, optional official split.

    ``official_split`` maps ``"train"|"val"|"test"`` to int64 index arrays into ``images``.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    official_split: dict[str, np.ndarray] | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_arrays(self.images, self.labels, self.class_names, self.name)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def fingerprint(self) -> str:
        """Hash of pixels, labels and class names: the cache key for everything derived."""
        if "_fingerprint" in self.__dict__:
            return self.__dict__["_fingerprint"]
        h = hashlib.sha256()
        h.update(str(self.images.shape).encode())
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(np.ascontiguousarray(self.labels.astype(np.int64)).tobytes())
        h.update("\x1f".join(self.class_names).encode())
        self.__dict__["_fingerprint"] = h.hexdigest()[:16]  # arrays are treated as immutable
        return self.__dict__["_fingerprint"]


def consecutive_split(sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Index arrays for splits stored one after another, e.g. {"train": 3, "test": 2}."""
    bounds = np.cumsum([0, *sizes.values()])
    return {s: np.arange(bounds[i], bounds[i + 1], dtype=np.int64) for i, s in enumerate(sizes)}


def validate_arrays(
    images: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], name: str
) -> None:
    """Reject anything that is not the canonical form, with a one-line error naming the fix."""
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        shape = getattr(images, "shape", None)
        raise HybenchError(
            f"dataset {name!r}: images must be a 4-D array (N, H, W, C), got shape {shape}",
            "store images as (N, H, W) or (N, H, W, C)",
        )
    if images.dtype != np.uint8:
        if np.issubdtype(images.dtype, np.floating) and np.isnan(images).any():
            raise HybenchError(
                f"dataset {name!r}: images contain NaN values",
                "remove or repair the NaN pixels before benchmarking",
            )
        raise HybenchError(
            f"dataset {name!r}: images have dtype {images.dtype}, expected uint8",
            "convert pixels to uint8 in 0..255",
        )
    if images.shape[-1] not in (1, 3):
        raise HybenchError(
            f"dataset {name!r}: images have {images.shape[-1]} channels, expected 1 or 3",
            "store grayscale (1) or RGB (3) images",
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise HybenchError(
            f"dataset {name!r}: {len(images)} images but {len(labels)} labels",
            "give exactly one label per image",
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise HybenchError(f"dataset {name!r}: labels must be integers", "encode classes as 0..K-1")
    if len(images) == 0:
        raise HybenchError(f"dataset {name!r} holds no images", "point it at a non-empty dataset")
    present = np.unique(labels)
    if present[0] < 0:
        raise HybenchError(
            f"dataset {name!r}: labels include negative values (smallest {present[0]})",
            "encode classes as 0..K-1",
        )
    if len(present) < 2:
        raise HybenchError(
            f"dataset {name!r}: labels hold a single class ({present.tolist()})",
            "a classification benchmark needs at least two classes",
        )
    if present.max() >= len(class_names):
        raise HybenchError(
            f"dataset {name!r}: label {present.max()} but only {len(class_names)} class names",
            "give one class name per label value",
        )
    absent = sorted(set(range(len(class_names))) - set(present.tolist()))
    if absent:
        raise HybenchError(
            f"dataset {name!r}: class {class_names[absent[0]]!r} (label {absent[0]}) has no "
            f"images; {len(absent)} of {len(class_names)} classes are empty",
            "drop the empty classes and re-code labels to 0..K-1",
        )


def ensure_path(path: Path, what: str) -> Path:
    if not path.exists():
        raise HybenchError(f"{what} not found: {path}", "check the path or --data-dir")
    return path
