"""Load any dataset source (registered name or path) into one :class:`Dataset`."""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path

from hybench.data.arrays import IMAGES_FILE, load_arrays
from hybench.data.catalog import DATASETS, DataPaths, get_dataset
from hybench.data.dataset import Dataset
from hybench.data.folders import load_class_folders
from hybench.data.medmnist import read_npz
from hybench.data.transforms import check_size, resize_images, to_channels
from hybench.errors import HybenchError
from hybench.storage import cache_root

DATA_DIR_ENV = "HYBENCH_DATA_DIR"


def load_dataset(
    spec: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    **options,
) -> Dataset:
    """Load ``spec`` (a registered name or a path) and optionally resize / convert channels.

    A path may be an ``.npz`` file, a folder with ``images.npy`` plus a labels CSV (option
    ``labels``), or a class-folder tree; a relative path is also looked up under ``data_dir``.
    ``data_dir`` falls back to ``$HYBENCH_DATA_DIR``; downloads go to ``datasets/`` under the
    cache root (``cache_dir``, else ``$HYBENCH_CACHE_DIR``). ``image_size`` resizes to (S, S);
    ``channels`` (1 or 3) converts gray <-> RGB. ``options`` go to the loader.
    """
    if image_size is not None:
        image_size = check_size(image_size)
    if channels not in (None, 1, 3):
        raise HybenchError(f"channels must be 1 or 3, got {channels!r}", "pass --channels 1 or 3")
    root = resolve_data_dir(data_dir)
    path = _as_path(spec, root)
    if path is None:
        loader = _registered(spec).load
        _check_options(spec, loader, options)
        dataset = loader(DataPaths(root, cache_root(cache_dir) / "datasets"), **options)
    else:
        dataset = _load_path(path, image_size=image_size, rgb=channels == 3, options=options)
    return _adapt(dataset, image_size, channels)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """``data_dir`` if given, else ``$HYBENCH_DATA_DIR``, else None."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(chosen).expanduser() if chosen else None


def _as_path(spec: str, data_dir: Path | None) -> Path | None:
    """The filesystem path ``spec`` names, or None when it is a registered dataset name."""
    if spec in DATASETS:
        return None
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if data_dir is not None and not path.is_absolute() and (data_dir / path).exists():
        return data_dir / path
    if len(path.parts) > 1 or path.suffix:
        raise HybenchError(f"dataset path not found: {spec}", "check the path or --data-dir")
    return None  # a bare word: get_dataset reports the unknown name


def _load_path(path: Path, *, image_size: int | None, rgb: bool, options: dict) -> Dataset:
    if path.is_file() and path.suffix.lower() == ".npz":
        _reject_unknown(options, [], f"npz file {path.name}")
        return read_npz(path)
    folder = path.parent if path.name == IMAGES_FILE else path
    if (folder / IMAGES_FILE).is_file():
        _reject_unknown(options, ["labels"], f"array folder {folder.name}")
        return load_arrays(folder, **options)
    if path.is_dir():
        _reject_unknown(options, [], f"image folder {path.name}")
        return load_class_folders(path, image_size=image_size, rgb=rgb)
    raise HybenchError(
        f"cannot tell the dataset format of {path}",
        "pass an .npz file, a folder with images.npy + labels.csv, or a class-folder tree",
    )


def _registered(name: str):
    try:
        return get_dataset(name)
    except HybenchError as exc:
        raise HybenchError(
            exc.problem, f"{exc.fix}; or pass a path to an .npz file or image folder"
        ) from None


def _check_options(name: str, loader, options: dict) -> None:
    params = inspect.signature(loader).parameters.values()
    allowed = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    _reject_unknown(options, allowed, f"dataset {name!r}")


def _reject_unknown(options: dict, allowed: list[str], what: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise HybenchError(
            f"{what} takes no option(s) {', '.join(unknown)}",
            f"valid options: {', '.join(sorted(allowed)) or 'none'}",
        )


def _adapt(dataset: Dataset, image_size: int | None, channels: int | None) -> Dataset:
    images = dataset.images
    if image_size is not None:
        images = resize_images(images, image_size)
    if channels is not None:
        images = to_channels(images, channels)
    if images is dataset.images:
        return dataset
    return dataclasses.replace(dataset, images=images)
