"""Split plans: one (train, val, test) index set per (dataset, seed), shared by every cell."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybench.data.dataset import SPLITS, Dataset
from hybench.errors import HybenchError
from hybench.storage import write_atomic

DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
DEFAULT_VAL_FRACTION = 0.1  # of the training rows, when an official split has no val part
CARVE_SEED = 0  # one carve for every run seed: all seeds keep one split (and one fingerprint)


@dataclass(frozen=True)
class SplitPlan:
    """Index arrays into the dataset for each split, plus where they came from."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: str  # "official", "official-val-from-train" or "stratified"
    seed: int

    def indices(self, split: str) -> np.ndarray:
        return getattr(self, split)

    def fingerprint(self) -> str:
        """sha256 over the three index arrays (order-sensitive), first 16 hex digits."""
        h = hashlib.sha256()
        for split in SPLITS:
            h.update(split.encode())
            h.update(np.ascontiguousarray(self.indices(split), dtype=np.int64).tobytes())
        return h.hexdigest()[:16]

    def save(self, path: Path) -> None:
        """Write atomically as .npz."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: np.savez(
            handle, train=self.train, val=self.val, test=self.test, kind=self.kind, seed=self.seed
        ))

    @classmethod
    def load(cls, path: Path) -> SplitPlan:
        with np.load(path) as data:
            return cls(
                data["train"], data["val"], data["test"], str(data["kind"]), int(data["seed"])
            )


def make_split_plan(
    dataset: Dataset,
    seed: int,
    *,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    resplit: bool = False,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> SplitPlan:
    """The official split when the dataset has one (unless ``resplit``), else a stratified one.

    An official split without a validation part gets one carved out of its training rows:
    ``val_fraction`` of each class, drawn with :data:`CARVE_SEED` whatever the run seed.
    """
    if dataset.official_split is not None and not resplit:
        official = {s: np.asarray(v, dtype=np.int64) for s, v in dataset.official_split.items()}
        if "val" in official:
            plan = SplitPlan(official["train"], official["val"], official["test"],
                             kind="official", seed=seed)
        else:
            train, val = carve_validation(official["train"], dataset.labels, val_fraction)
            plan = SplitPlan(train, val, official["test"], kind="official-val-from-train",
                             seed=seed)
    else:
        plan = SplitPlan(
            *stratified_indices(dataset.labels, fractions, seed), kind="stratified", seed=seed
        )
    check_every_class_present(plan, dataset)
    return plan


def stratified_indices(
    labels: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class: shuffle, then cut at rounded cumulative fractions (counts within 1 of exact)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise HybenchError(
            f"split fractions {fractions} must be three non-negative numbers summing to 1",
            "use e.g. --split 0.7,0.1,0.2",
        )
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(fractions)[:2]
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        a, b = np.rint(cuts * len(members)).astype(int)
        for part, chunk in zip(parts, (members[:a], members[a:b], members[b:]), strict=True):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)  # type: ignore[return-value]


def carve_validation(
    train: np.ndarray, labels: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into (train, val), stratified, ``fraction`` of each class to val."""
    if not 0 < fraction < 1:
        raise HybenchError(f"val_fraction must be between 0 and 1, got {fraction}",
                           "use e.g. --val-fraction 0.1")
    rest, val, _ = stratified_indices(labels[train], (1 - fraction, fraction, 0.0), CARVE_SEED)
    return train[rest], train[val]


def check_every_class_present(plan: SplitPlan, dataset: Dataset) -> None:
    present_overall = set(np.unique(dataset.labels).tolist())
    for split in SPLITS:
        idx = plan.indices(split)
        missing = present_overall - set(np.unique(dataset.labels[idx]).tolist())
        if missing:
            names = ", ".join(dataset.class_names[c] for c in sorted(missing))
            raise HybenchError(
                f"dataset {dataset.name!r}: the {split} split ({len(idx)} images) holds no "
                f"'{names}' image",
                "use more images (or a larger class), or change --split fractions",
            )


def count_cross_split_duplicates(dataset: Dataset, plan: SplitPlan) -> dict[str, int]:
    """Exact duplicate images shared between splits, by pair (e.g. ``train-test``)."""
    digests = {
        split: {
            hashlib.blake2b(dataset.images[i].tobytes(), digest_size=16).digest()
            for i in plan.indices(split)
        }
        for split in SPLITS
    }
    return {
        f"{a}-{b}": len(digests[a] & digests[b])
        for a, b in (("train", "val"), ("train", "test"), ("val", "test"))
    }
