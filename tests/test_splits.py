"""Split plans: stratification, determinism, official splits, class coverage, duplicates."""

import numpy as np
import pytest

from hybench.data.dataset import Dataset
from hybench.data.splits import SplitPlan, count_cross_split_duplicates, make_split_plan
from hybench.errors import HybenchError


def make_dataset(counts=(70, 25, 10), official=None, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)]).astype(np.int64)
    images = rng.integers(0, 256, size=(len(labels), 8, 8, 1), dtype=np.uint8)
    names = tuple(f"c{i}" for i in range(len(counts)))
    return Dataset("toy", images, labels, names, official_split=official)


def test_stratified_counts_within_one_of_exact():
    dataset = make_dataset(counts=(701, 173, 29))
    plan = make_split_plan(dataset, seed=0)
    for cls, total in enumerate((701, 173, 29)):
        for split, fraction in zip(("train", "val", "test"), (0.7, 0.1, 0.2), strict=True):
            got = int((dataset.labels[plan.indices(split)] == cls).sum())
            assert abs(got - fraction * total) <= 1, (cls, split, got)


def test_splits_partition_the_dataset():
    dataset = make_dataset()
    plan = make_split_plan(dataset, seed=3)
    joined = np.concatenate([plan.train, plan.val, plan.test])
    assert sorted(joined.tolist()) == list(range(len(dataset.labels)))


def test_same_seed_same_fingerprint_other_seed_differs():
    dataset = make_dataset()
    a, b = make_split_plan(dataset, seed=0), make_split_plan(dataset, seed=0)
    assert a.fingerprint() == b.fingerprint()
    assert make_split_plan(dataset, seed=1).fingerprint() != a.fingerprint()


def test_official_split_used_unless_resplit():
    official = {"train": np.arange(0, 60), "val": np.arange(60, 80), "test": np.arange(80, 100)}
    dataset = make_dataset(counts=(50, 50), official=official)
    dataset.labels[[60, 61, 80, 81]] = 0  # every split holds both classes
    plan = make_split_plan(dataset, seed=5)
    assert plan.kind == "official"
    np.testing.assert_array_equal(plan.test, official["test"])
    assert make_split_plan(dataset, seed=5, resplit=True).kind == "stratified"


def test_split_too_small_for_every_class_is_a_clear_error():
    dataset = make_dataset(counts=(50, 3))
    with pytest.raises(HybenchError, match="holds no 'c1' image"):
        make_split_plan(dataset, seed=0)


def test_bad_fractions_rejected():
    with pytest.raises(HybenchError, match="summing to 1"):
        make_split_plan(make_dataset(), seed=0, fractions=(0.5, 0.1, 0.1))


def test_save_load_roundtrip(tmp_path):
    plan = make_split_plan(make_dataset(), seed=2)
    plan.save(tmp_path / "s.npz")
    loaded = SplitPlan.load(tmp_path / "s.npz")
    assert loaded.fingerprint() == plan.fingerprint() and loaded.kind == plan.kind


def test_cross_split_duplicates_counted():
    dataset = make_dataset()
    plan = make_split_plan(dataset, seed=0)
    assert count_cross_split_duplicates(dataset, plan) == {
        "train-val": 0,
        "train-test": 0,
        "val-test": 0,
    }
    dataset.images[plan.test[0]] = dataset.images[plan.train[0]]
    dataset.images[plan.test[1]] = dataset.images[plan.train[1]]
    assert count_cross_split_duplicates(dataset, plan)["train-test"] == 2
