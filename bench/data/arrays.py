"""A folder holding ``images.npy`` (N, H, W[, C]) uint8 plus a labels CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hybench.data.dataset import Dataset, ensure_path
from hybench.data.transforms import add_channel_axis
from hybench.errors import HybenchError

IMAGES_FILE = "images.npy"
_HEADER_WORDS = {"label", "labels", "class", "target", "y", "index", "id"}


def load_arrays(folder: Path, *, labels: str = "labels.csv") -> Dataset:
    """Load ``folder/images.npy`` with labels from ``folder/<labels>``.

    The CSV holds either one label column or ``index,label`` columns (header optional). Integer
    labels keep their numeric order, string labels are sorted; class names are those values.
    """
    images_path = ensure_path(folder / IMAGES_FILE, "images file")
    labels_path = ensure_path(folder / labels, "labels file")
    images = _read_npy(images_path)
    values = read_label_column(labels_path, len(images))
    codes, class_names = encode_labels(values)
    return Dataset(
        name=folder.name,
        images=add_channel_axis(images),
        labels=codes,
        class_names=class_names,
        source=str(folder),
    )


def read_label_column(path: Path, n_images: int) -> list[str]:
    """The label of each image, in image order, from a 1-column or ``index,label`` CSV."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [[cell.strip() for cell in row] for row in csv.reader(handle) if any(row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise HybenchError(
            f"cannot read labels file {path} ({type(exc).__name__})", "save it as UTF-8 CSV text"
        ) from exc
    if not rows:
        raise HybenchError(f"labels file {path} is empty", "write one label per image")
    width = len(rows[0])
    if width not in (1, 2) or any(len(row) != width for row in rows):
        raise HybenchError(
            f"labels file {path} must have 1 column (label) or 2 (index,label) in every row",
            "write 'label' or 'index,label' rows",
        )
    if _is_header(rows, n_images):
        rows = rows[1:]
    if len(rows) != n_images:
        raise HybenchError(
            f"{n_images} images but {len(rows)} labels in {path.name}",
            "give exactly one label per image",
        )
    if any(not row[-1] for row in rows):
        raise HybenchError(f"labels file {path} has empty labels", "give every image a label")
    if width == 1:
        return [row[0] for row in rows]
    try:
        order = np.array([int(row[0]) for row in rows])
    except ValueError as exc:
        raise HybenchError(
            f"labels file {path}: the index column holds non-integers", "use image indices 0..N-1"
        ) from exc
    if not np.array_equal(np.sort(order), np.arange(n_images)):
        raise HybenchError(
            f"labels file {path}: indices are not each of 0..{n_images - 1} exactly once",
            "give every image index one row",
        )
    values = [""] * n_images
    for index, row in zip(order, rows, strict=True):
        values[index] = row[1]
    return values


def encode_labels(values: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map label strings to codes 0..K-1 (numeric order if all are integers, else sorted)."""
    try:
        keys: list = [int(v) for v in values]
    except ValueError:
        keys = values
    unique, codes = np.unique(np.array(keys), return_inverse=True)
    return codes.astype(np.int64), tuple(str(v) for v in unique.tolist())


def _is_header(rows: list[list[str]], n_images: int) -> bool:
    if len(rows[0]) == 2:
        return not _is_int(rows[0][0])
    first = rows[0][0]
    if _is_int(first):
        return False
    if first.lower() in _HEADER_WORDS or len(rows) == n_images + 1:
        return True
    return len(rows) > 1 and all(_is_int(row[0]) for row in rows[1:])


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _read_npy(path: Path) -> np.ndarray:
    problem = f"cannot read {path}: not a valid .npy array"
    fix = "re-save the images with numpy.save"
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise HybenchError(f"{problem} ({type(exc).__name__})", fix) from exc
    if not isinstance(images, np.ndarray) or images.ndim == 0:
        raise HybenchError(problem, fix)
    return images
