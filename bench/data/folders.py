"""Class-folder image trees (the Kermany chest X-ray layout).

``ROOT/{train,val,test}/<CLASS>/*.png|jpg|jpeg`` gives an official split (``val`` optional);
``ROOT/<CLASS>/*`` gives none. Images are decoded to grayscale (or RGB) uint8. When no
``image_size`` is given and the images differ in size, all are resized to 64 x 64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import io
from skimage.color import gray2rgb, rgb2gray, rgba2rgb
from skimage.util import img_as_ubyte

from hybench.data.dataset import SPLITS, Dataset, consecutive_split
from hybench.data.transforms import check_size, resize_image
from hybench.errors import HybenchError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_MIXED_SIZE = 64


def load_class_folders(root: Path, *, image_size: int | None = None, rgb: bool = False) -> Dataset:
    """Load a class-folder tree; class names are the sorted folder names."""
    split_dirs = [s for s in SPLITS if (root / s).is_dir()]
    if split_dirs and not {"train", "test"} <= set(split_dirs):
        raise HybenchError(
            f"{root} has split folders {split_dirs} but needs both train/ and test/",
            "add the missing split folder or put class folders directly under the root",
        )
    groups = {s: root / s for s in split_dirs} if split_dirs else {"all": root}
    class_names = _class_names(groups)
    files: list[Path] = []
    labels: list[int] = []
    split_sizes: dict[str, int] = {}
    for split, folder in groups.items():
        before = len(files)
        for label, class_name in enumerate(class_names):
            class_files = _image_files(folder / class_name)
            files += class_files
            labels += [label] * len(class_files)
        split_sizes[split] = len(files) - before
    images = decode_images(files, size=image_size, rgb=rgb)
    return Dataset(
        name=root.name,
        images=images,
        labels=np.array(labels, dtype=np.int64),
        class_names=class_names,
        official_split=consecutive_split(split_sizes) if split_dirs else None,
        source=str(root),
    )


def decode_images(files: list[Path], *, size: int | None = None, rgb: bool = False) -> np.ndarray:
    """Decode ``files`` to ``(N, S, S, 1|3)`` uint8, resizing as the module docstring says."""
    target = None if size is None else check_size(size)
    images: list[np.ndarray] = []
    for path in files:
        image = read_image(path, rgb=rgb)
        if target is None and images and image.shape != images[0].shape:
            target = DEFAULT_MIXED_SIZE
            images = [resize_image(done, target) for done in images]
        images.append(image if target is None else resize_image(image, target))
    return np.stack(images)


def read_image(path: Path, *, rgb: bool = False) -> np.ndarray:
    """One image file as ``(H, W, 1)`` gray or ``(H, W, 3)`` RGB uint8."""
    try:
        image = io.imread(path)
    except Image.DecompressionBombError as exc:
        raise HybenchError(
            f"image {path} claims more pixels than Pillow's safety limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels): a corrupt file or a decompression bomb",
            "replace or remove the file",
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise HybenchError(
            f"cannot decode image {path} ({type(exc).__name__})", "replace or remove the file"
        ) from exc
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    elif image.ndim == 3 and image.shape[-1] == 2:  # gray + alpha
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise HybenchError(
            f"image {path} has shape {image.shape}", "store 2-D grayscale or RGB images"
        )
    if rgb and image.ndim == 2:
        image = gray2rgb(image)
    elif not rgb and image.ndim == 3:
        image = rgb2gray(image)
    image = img_as_ubyte(image)
    return image if image.ndim == 3 else image[..., np.newaxis]


def _class_names(groups: dict[str, Path]) -> tuple[str, ...]:
    per_group = {
        split: sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        for split, folder in groups.items()
    }
    first_split, names = next(iter(per_group.items()))
    for split, other in per_group.items():
        if other != names:
            raise HybenchError(
                f"class folders differ between {first_split}/ {names} and {split}/ {other}",
                "use the same class folder names in every split",
            )
    if len(names) < 2:
        raise HybenchError(
            f"found {len(names)} class folder(s) under {next(iter(groups.values()))}",
            "put each class's images in its own sub-folder (at least two classes)",
        )
    return tuple(names)


def _image_files(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise HybenchError(
            f"class folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} images",
            "add images or remove the empty folder",
        )
    return files
