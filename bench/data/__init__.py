"""Data, the first stage of the flow: dataset sources -> one in-memory :class:`Dataset` -> the
split plan every cell of a run shares.

``catalog`` registers named datasets; ``loading`` turns a name or a path (``.npz``, ``images.npy``
folder, class-folder tree) into a ``Dataset``; ``transforms`` resizes and converts channels;
``splits`` makes and fingerprints the train/val/test plan.
"""

from hybench.data.catalog import (
    DataPaths,
    DatasetSpec,
    get_dataset,
    list_datasets,
    register_dataset,
)
from hybench.data.dataset import SPLITS, Dataset
from hybench.data.loading import load_dataset, resolve_data_dir
from hybench.data.splits import SplitPlan, make_split_plan

__all__ = [
    "SPLITS",
    "DataPaths",
    "Dataset",
    "DatasetSpec",
    "SplitPlan",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "make_split_plan",
    "register_dataset",
    "resolve_data_dir",
]
