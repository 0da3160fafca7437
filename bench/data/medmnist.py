"""MedMNIST v2/v3 ``.npz`` files: local copy, pooch cache, or download from Zenodo.

Also reads any ``.npz`` with MedMNIST-style keys (``{split}_images`` / ``{split}_labels``) or plain
``images`` / ``labels`` keys.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pooch

from hybench.data.arrays import encode_labels
from hybench.data.catalog import DataPaths, register_dataset
from hybench.data.dataset import SPLITS, Dataset, consecutive_split
from hybench.data.transforms import add_channel_axis
from hybench.errors import HybenchError

ZENODO_URL = "https://zenodo.org/records/10519652/files/{file}?download=1"
SIZES = (28, 64, 128, 224)

_ORGANS = (
    "bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
    "lung-left", "lung-right", "pancreas", "spleen",
)  # fmt: skip


@dataclass(frozen=True)
class MedMNISTInfo:
    """One single-label 2D MedMNIST dataset; ``md5`` holds one checksum per image size."""

    name: str
    description: str
    class_names: tuple[str, ...]
    md5: tuple[str, str, str, str]  # for SIZES 28, 64, 128, 224


# Class names and MD5s from the medmnist package's medmnist/info.py (v3.0.2, Zenodo record
# 10519652). ChestMNIST (multi-label) and the 3D datasets are left out.
CATALOG = (
    MedMNISTInfo(
        "pneumoniamnist",
        "pediatric chest X-rays, pneumonia vs normal (gray, 5,856 images)",
        ("normal", "pneumonia"),
        ("28209eda62fecd6e6a2d98b1501bb15f", "8f4eceb4ccffa70c672198ea285246c6",
         "05b46931834c231683c68f40c47b2971", "d6a3c71de1b945ea11211b03746c1fe1"),
    ),
    MedMNISTInfo(
        "breastmnist",
        "breast ultrasound, malignant vs normal/benign (gray, 780 images)",
        ("malignant", "normal, benign"),
        ("750601b1f35ba3300ea97c75c52ff8f6", "742edef2a1fd1524b2efff4bd7ba9364",
         "363e4b3f8d712e9b5de15470a2aaadf1", "b56378a6eefa9fed602bb16d192d4c8b"),
    ),
    MedMNISTInfo(
        "pathmnist",
        "colorectal cancer histology, 9 tissue types (RGB, 107,180 images)",
        ("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
         "normal colon mucosa", "cancer-associated stroma",
         "colorectal adenocarcinoma epithelium"),
        ("a8b06965200029087d5bd730944a56c1", "55aa9c1e0525abe5a6b9d8343a507616",
         "ac42d08fb904d92c244187169d1fd1d9", "2c51a510bcdc9cf8ddb2af93af1eadec"),
    ),
    MedMNISTInfo(
        "dermamnist",
        "dermatoscopic skin lesions, 7 diagnoses (RGB, 10,015 images)",
        ("actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
         "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
         "vascular lesions"),
        ("0744692d530f8e62ec473284d019b0c7", "b70a2f5635c6199aeaa28c31d7202e1f",
         "2defd784463fa5243564e855ed717de1", "8974907d8e169bef5f5b96bc506ae45d"),
    ),
    MedMNISTInfo(
        "octmnist",
        "retinal OCT scans, 4 diagnoses (gray, 109,309 images)",
        ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
        ("c68d92d5b585d8d81f7112f81e2d0842", "e229e9440236b774d9f0dfef9d07bdaf",
         "0a97e76651ace45c5d943ee3f65b63ae", "abc493b6d529d5de7569faaef2773ba3"),
    ),
    MedMNISTInfo(
        "retinamnist",
        "retina fundus, 5 diabetic-retinopathy grades (RGB, 1,600 images)",
        ("0", "1", "2", "3", "4"),
        ("bd4c0672f1bba3e3a89f0e4e876791e4", "afda852cc34dcda56f86ad2b2457dbcc",
         "e48e916a24454daf90583d4e6efb1a18", "eae7e3b6f3fcbda4ae613ebdcbe35348"),
    ),
    MedMNISTInfo(
        "bloodmnist",
        "blood cell microscopy, 8 cell types (RGB, 17,092 images)",
        ("basophil", "eosinophil", "erythroblast",
         "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte",
         "monocyte", "neutrophil", "platelet"),
        ("7053d0359d879ad8a5505303e11de1dc", "2b94928a2ae4916078ca51e05b6b800b",
         "adace1e0ed228fccda1f39692059dd4c", "b718ff6835fcbdb22ba9eacccd7b2601"),
    ),
    MedMNISTInfo(
        "tissuemnist",
        "kidney cortex cells, 8 cell types (gray, 236,386 images)",
        ("Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
         "Glomerular endothelial cells", "Interstitial endothelial cells", "Leukocytes",
         "Podocytes", "Proximal Tubule Segments", "Thick Ascending Limb"),
        ("ebe78ee8b05294063de985d821c1c34b", "123ece2eba09d0aa5d698fda57103344",
         "61b955355d7425a89687b06cca3ce0c2", "b077128c4a949f0a4eb01517f9037b9c"),
    ),
    MedMNISTInfo(
        "organamnist",
        "abdominal CT, axial view, 11 organs (gray, 58,830 images)",
        _ORGANS,
        ("68e3f8846a6bd62f0c9bf841c0d9eacc", "2dcccc29b88e6da5a01161ef20cda288",
         "eeae80d0a227a8d099027e1b3cfd3b60", "50747347e05c87dd3aaf92c49f9f3170"),
    ),
    MedMNISTInfo(
        "organcmnist",
        "abdominal CT, coronal view, 11 organs (gray, 23,583 images)",
        _ORGANS,
        ("b9ceb9546e10131b32923c5bbeaea2b1", "3ce34a8724ea6f548e6db4744d03b6a9",
         "773c1f009daa3fe5d9a2a201b2a7ed94", "050f5e875dc056f6768abf94ec9995d1"),
    ),
    MedMNISTInfo(
        "organsmnist",
        "abdominal CT, sagittal view, 11 organs (gray, 25,211 images)",
        _ORGANS,
        ("9ab87b696fb54e2a387ebe992d6ed5f1", "53a6d115339d874c25e309a994ff46d3",
         "ded0c5fa01a95dc4978b956f613e9b8e", "b354719e553fbbb2513d5533f52a4cb1"),
    ),
)  # fmt: skip


def medmnist_filename(name: str, size: int = 28) -> str:
    """``pneumoniamnist.npz`` for 28 px, ``pneumoniamnist_64.npz`` for the larger sizes."""
    return f"{name}.npz" if size == 28 else f"{name}_{size}.npz"


def fetch_medmnist(info: MedMNISTInfo, size: int, paths: DataPaths) -> Path:
    """A local ``data_dir`` copy as is (no hash check), else the cached or downloaded file."""
    data_dir = paths.data_dir
    if size not in SIZES:
        raise HybenchError(
            f"{info.name}: no {size} px files", f"pick size from {', '.join(map(str, SIZES))}"
        )
    filename = medmnist_filename(info.name, size)
    if data_dir is not None and (data_dir / filename).is_file():
        return data_dir / filename
    url = ZENODO_URL.format(file=filename)
    known_hash = f"md5:{info.md5[SIZES.index(size)]}"
    try:
        path = pooch.retrieve(url, known_hash=known_hash, fname=filename, path=paths.downloads)
    except (OSError, ValueError) as exc:  # requests errors are OSErrors; hash mismatch ValueError
        raise HybenchError(
            f"{filename} is not in {data_dir or 'DATA_DIR'} and downloading it failed "
            f"({type(exc).__name__})",
            f"put {filename} in {data_dir or 'DATA_DIR'} or pass --data-dir",
        ) from exc
    return Path(path)


def load_medmnist(info: MedMNISTInfo, paths: DataPaths, *, size: int = 28) -> Dataset:
    """Load a registered MedMNIST dataset with its official train/val/test split."""
    path = fetch_medmnist(info, size, paths)
    return read_npz(path, name=info.name, class_names=info.class_names, meta={"size": size})


def read_npz(
    path: Path,
    *,
    name: str | None = None,
    class_names: tuple[str, ...] | None = None,
    meta: dict | None = None,
) -> Dataset:
    """Read a MedMNIST-style or plain ``images``/``labels`` npz.

    Without ``class_names``, a file named like a MedMNIST dataset (``pneumoniamnist_64.npz``) gets
    that dataset's class names; any other file gets "0".."K-1".
    """
    name = name or path.stem
    arrays = _read_npz_arrays(path)
    split_names = [s for s in SPLITS if f"{s}_images" in arrays and f"{s}_labels" in arrays]
    if split_names and not {"train", "test"} <= set(split_names):
        raise HybenchError(
            f"{path.name} has split arrays for {', '.join(split_names)} but needs train and test",
            "add the train_/test_ arrays, or store plain 'images' and 'labels'",
        )
    if split_names:
        parts = [(arrays[f"{s}_images"], arrays[f"{s}_labels"]) for s in split_names]
        official_split = consecutive_split({s: len(arrays[f"{s}_labels"]) for s in split_names})
        images = np.concatenate([add_channel_axis(images) for images, _ in parts])
        labels = np.concatenate([_flat_labels(labels, name) for _, labels in parts])
    elif "images" in arrays and "labels" in arrays:
        official_split = None
        images = add_channel_axis(arrays["images"])
        labels = _flat_labels(arrays["labels"], name)
    else:
        raise HybenchError(
            f"{path.name} has keys {sorted(arrays)}, not images/labels",
            "store 'images' and 'labels' (or 'train_images', 'train_labels', ...) arrays",
        )
    notes = []
    class_names = class_names or _catalog_class_names(path.stem)
    if class_names is None:
        labels, class_names, notes = _present_classes(labels, name)
    return Dataset(
        name=name,
        images=images,
        labels=labels,
        class_names=class_names,
        official_split=official_split,
        source=str(path),
        meta={**(meta or {}), "notes": notes},
    )


def _present_classes(labels: np.ndarray, name: str) -> tuple[np.ndarray, tuple[str, ...], list]:
    """Labels re-coded to 0..K-1 over the values present (as the CSV loader does), class names
    the original values, and a note when the values had gaps (an absent class would make every
    cell fail)."""
    codes, names = encode_labels(labels.tolist())
    if names and int(names[0]) < 0:
        raise HybenchError(
            f"dataset {name!r}: labels include negative values (smallest {names[0]})",
            "encode classes as 0..K-1 (hybench has no 'unlabelled' value)",
        )
    if names == tuple(str(i) for i in range(len(names))):
        return codes, names, []
    note = (f"labels {', '.join(names)} have gaps; re-coded to 0..{len(names) - 1} "
            "(class names keep the original values)")
    return codes, names, [note]


def _catalog_class_names(stem: str) -> tuple[str, ...] | None:
    for info in CATALOG:
        if stem in {medmnist_filename(info.name, size)[: -len(".npz")] for size in SIZES}:
            return info.class_names
    return None


def _read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    problem = f"cannot read {path}: not a valid .npz archive"
    fix = "re-download it or re-save it with numpy.savez"
    if not zipfile.is_zipfile(path):
        raise HybenchError(problem, fix)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise HybenchError(
                f"{path} holds object (pickled) arrays, which hybench refuses to load: "
                "unpickling a file can run arbitrary code",
                "re-save it with numeric arrays (uint8 images, integer labels)",
            ) from exc
        raise HybenchError(f"{problem} (ValueError)", fix) from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise HybenchError(f"{problem} ({type(exc).__name__})", fix) from exc


def _flat_labels(labels: np.ndarray, name: str) -> np.ndarray:
    """``(N,)`` or ``(N, 1)`` integer labels -> int64 ``(N,)``; multi-label arrays are refused."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise HybenchError(
            f"dataset {name!r}: labels have shape {labels.shape}, expected one label per image",
            "multi-label data is not supported; store one integer class per image",
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise HybenchError(
            f"dataset {name!r}: labels have dtype {labels.dtype}, expected integers",
            "encode classes as 0..K-1",
        )
    return labels.astype(np.int64)


for _info in CATALOG:
    register_dataset(
        _info.name,
        description=f"MedMNIST {_info.description}",
        where=(
            f"DATA_DIR/{medmnist_filename(_info.name)} (or {_info.name}_64/128/224.npz with "
            f"size=...), else the download cache, else zenodo.org/records/10519652"
        ),
    )(partial(load_medmnist, _info))
