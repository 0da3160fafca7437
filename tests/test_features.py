"""Built-in image features, the batched runner and the on-disk feature cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hybench.features import Feature, FeatureSpec, get_feature
from hybench.features.cache import FeatureCache, compute_features
from hybench.storage import cache_root as default_cache_root

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, size=(12, 28, 28, 1), dtype=np.uint8)


def test_pixels_are_flat_float32_in_unit_range():
    images = GRAY.copy()
    images[0] = 0
    images[1] = 255
    X = get_feature("pixels").transform(images)
    assert X.shape == (12, 28 * 28) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.all(X[0] == 0.0) and np.all(X[1] == 1.0)


def test_pixels_keep_every_rgb_channel():
    rgb = RNG.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    assert get_feature("pixels").transform(rgb).shape == (3, 8 * 8 * 3)


def test_hog_defaults_give_float32_vectors_at_28px():
    X = get_feature("hog").transform(GRAY)
    # 7x7 cells of 4 px -> 6x6 blocks of 2x2 cells x 9 orientations
    assert X.shape == (12, 6 * 6 * 2 * 2 * 9) and X.dtype == np.float32
    assert np.isfinite(X).all() and X.min() >= 0.0 and X.std() > 0


def test_hog_converts_rgb_to_gray():
    rgb = np.repeat(GRAY, 3, axis=-1)
    hog = get_feature("hog")
    np.testing.assert_allclose(hog.transform(rgb), hog.transform(GRAY), atol=1e-5)


def test_hog_params_change_output_and_cache_key():
    default = get_feature("hog")
    coarse = get_feature("hog", pixels_per_cell=7, orientations=6)
    l1 = get_feature("hog", block_norm="L1")
    assert len({default.key(), coarse.key(), l1.key()}) == 3
    assert coarse.transform(GRAY).shape == (12, 3 * 3 * 2 * 2 * 6)
    assert not np.allclose(l1.transform(GRAY), default.transform(GRAY))


def test_image_feature_is_identity_and_not_cacheable():
    feature = get_feature("image")
    assert feature.transform(GRAY) is GRAY
    assert not feature.cacheable


def test_parallel_batches_match_serial_result():
    images = RNG.integers(0, 256, size=(300, 28, 28, 1), dtype=np.uint8)
    hog = get_feature("hog")
    serial = compute_features(hog, images, n_jobs=1)
    parallel = compute_features(hog, images, n_jobs=2, batch_size=64)
    assert parallel.shape == serial.shape == (300, 1296)
    np.testing.assert_array_equal(parallel, serial)


class CountingTransform:
    """A feature function that counts its calls (run in-process: one batch, n_jobs=1)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, images: np.ndarray, *, scale: float) -> np.ndarray:
        self.calls += 1
        return images.reshape(len(images), -1).astype(np.float32) * scale


@pytest.fixture
def counting() -> tuple[Feature, CountingTransform]:
    fn = CountingTransform()
    return Feature(FeatureSpec("counting", fn, {"scale": 0.5}), {"scale": 0.5}), fn


def test_transform_can_opt_out_of_the_process_pool(counting):
    feature, fn = counting
    in_process = Feature(dataclasses.replace(feature.spec, parallel=False), feature.params)
    values = compute_features(in_process, GRAY, n_jobs=2, batch_size=4)
    assert fn.calls == 1  # one in-process call, not three pooled batches
    np.testing.assert_array_equal(values, GRAY.reshape(12, -1).astype(np.float32) * 0.5)


def test_cache_miss_then_hit_skips_the_transform(tmp_path: Path, counting):
    feature, fn = counting
    cache = FeatureCache(tmp_path)
    first, seconds, hit = cache.get_or_compute(feature, "fp123", GRAY, n_jobs=1)
    assert not hit and fn.calls == 1 and seconds >= 0
    assert cache.path_for(feature, "fp123") == tmp_path / "fp123" / f"{feature.key()}.npy"
    assert cache.path_for(feature, "fp123").is_file()
    assert [p.name for p in (tmp_path / "fp123").iterdir()] == [f"{feature.key()}.npy"]

    second, _, hit = cache.get_or_compute(feature, "fp123", GRAY, n_jobs=1)
    assert hit and fn.calls == 1
    np.testing.assert_array_equal(second, first)


def test_cache_separates_datasets_and_params(tmp_path: Path, counting):
    feature, fn = counting
    cache = FeatureCache(tmp_path)
    cache.get_or_compute(feature, "fp-a", GRAY, n_jobs=1)
    _, _, hit_other_dataset = cache.get_or_compute(feature, "fp-b", GRAY, n_jobs=1)
    doubled = Feature(feature.spec, {"scale": 1.0})
    values, _, hit_other_params = cache.get_or_compute(doubled, "fp-a", GRAY, n_jobs=1)
    assert not hit_other_dataset and not hit_other_params and fn.calls == 3
    np.testing.assert_array_equal(values, GRAY.reshape(12, -1).astype(np.float32))


def test_a_new_library_or_code_version_recomputes(tmp_path: Path, counting, monkeypatch):
    """The cache key holds the versions of the libraries the feature names and its code."""
    from hybench.features import registry

    feature, fn = counting
    feature = Feature(dataclasses.replace(feature.spec, libraries=("numpy", "scikit-image")),
                      feature.params)
    cache = FeatureCache(tmp_path)
    cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    real_version = registry._version
    monkeypatch.setattr(registry, "_version",
                        lambda name: "0.0-other" if name == "scikit-image" else real_version(name))
    _, _, hit_new_library = cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    monkeypatch.setattr(registry, "code_hash", lambda fn: "edited")
    _, _, hit_new_code = cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    assert not hit_new_library and not hit_new_code and fn.calls == 3
    assert len(list((tmp_path / "fp").iterdir())) == 3  # nothing stale is reused or overwritten


def test_an_edit_of_the_batch_hog_module_changes_the_hog_cache_key(monkeypatch):
    """``hog`` is registered in image.py but computed in hog_batch.py: both are in its key."""
    from hybench.features import hog_batch, registry

    before = get_feature("hog").key()
    real = registry._file_hash
    edited = hog_batch.__file__
    monkeypatch.setattr(registry, "_file_hash",
                        lambda path: "edited" if path == edited else real(path))
    assert get_feature("hog").key() != before


def test_builtin_features_name_the_libraries_behind_them():
    assert "scikit-image" in get_feature("hog").spec.libraries
    assert {"keras", "tensorflow"} <= set(get_feature("embed-mobilenet-0.25",
                                                      weights="none").spec.libraries)


@pytest.mark.parametrize("garbage", [b"", b"not a numpy file", b"\x93NUMPY\x01\x00trunc"])
def test_corrupt_cache_file_is_recomputed_and_replaced(tmp_path: Path, counting, garbage):
    feature, fn = counting
    cache = FeatureCache(tmp_path)
    path = cache.path_for(feature, "fp")
    path.parent.mkdir(parents=True)
    path.write_bytes(garbage)
    with pytest.warns(UserWarning, match="unusable"):
        values, _, hit = cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    assert not hit and fn.calls == 1
    np.testing.assert_array_equal(np.load(path), values)
    _, _, hit = cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    assert hit and fn.calls == 1


def test_cached_array_with_wrong_row_count_is_recomputed(tmp_path: Path, counting):
    feature, fn = counting
    cache = FeatureCache(tmp_path)
    cache.get_or_compute(feature, "fp", GRAY[:5], n_jobs=1)
    with pytest.warns(UserWarning, match="unusable"):
        values, _, hit = cache.get_or_compute(feature, "fp", GRAY, n_jobs=1)
    assert not hit and len(values) == 12 and fn.calls == 2


def test_non_cacheable_feature_is_computed_but_never_stored(tmp_path: Path):
    cache = FeatureCache(tmp_path / "root")
    values, _, hit = cache.get_or_compute(get_feature("image"), "fp", GRAY, n_jobs=1)
    assert not hit
    np.testing.assert_array_equal(values, GRAY)
    assert not (tmp_path / "root").exists()


def test_default_cache_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HYBENCH_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("HYBENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_root() == tmp_path / ".cache" / "hybench"
