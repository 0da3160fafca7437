"""Dataset loaders: every source format, transforms, synthetic-cxr, downloads and bad input."""

from __future__ import annotations

import numpy as np
import pooch
import pytest
from skimage.io import imsave
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from hybench.data import list_datasets, load_dataset
from hybench.data.medmnist import ZENODO_URL
from hybench.data.transforms import resize_images, to_channels
from hybench.errors import HybenchError
from tests.conftest import PNEUMONIA_NPZ, requires_pneumonia

RNG = np.random.default_rng(0)


def gray_images(n: int, size: int = 8) -> np.ndarray:
    return RNG.integers(0, 256, (n, size, size), dtype=np.uint8)


def two_class_labels(n: int) -> np.ndarray:
    return np.arange(n) % 2


def write_medmnist_npz(path, sizes=(6, 2, 4), image_size=8):
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        arrays[f"{split}_images"] = gray_images(n, image_size)
        arrays[f"{split}_labels"] = two_class_labels(n).astype(np.uint8)[:, None]
    np.savez(path, **arrays)
    return arrays


def write_png_tree(root, counts: dict[str, int], size: int = 8, sizes: list[int] | None = None):
    """``counts`` maps "split/CLASS" or "CLASS" to a number of PNGs."""
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            side = sizes[i % len(sizes)] if sizes else size
            image = RNG.integers(0, 256, (side, side), dtype=np.uint8)
            imsave(root / folder / f"{i}.png", image, check_contrast=False)


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *words: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# --- npz -----------------------------------------------------------------------------------


def test_medmnist_style_npz_gets_official_split_and_flat_labels(tmp_path):
    arrays = write_medmnist_npz(tmp_path / "mini.npz")
    ds = load_dataset(str(tmp_path / "mini.npz"))
    assert ds.name == "mini"
    assert ds.images.shape == (12, 8, 8, 1) and ds.labels.shape == (12,)
    assert ds.class_names == ("0", "1")
    assert {k: len(v) for k, v in ds.official_split.items()} == {"train": 6, "val": 2, "test": 4}
    test_rows = ds.official_split["test"]
    np.testing.assert_array_equal(ds.images[test_rows, ..., 0], arrays["test_images"])
    np.testing.assert_array_equal(ds.labels[test_rows], arrays["test_labels"][:, 0])


def test_plain_npz_has_no_official_split_and_is_found_under_data_dir(tmp_path):
    images, labels = gray_images(10), np.array([0, 1, 2] * 3 + [2])
    np.savez(tmp_path / "plain.npz", images=images, labels=labels)
    ds = load_dataset("plain.npz", data_dir=tmp_path)
    assert ds.official_split is None
    assert ds.class_names == ("0", "1", "2")
    np.testing.assert_array_equal(ds.images[..., 0], images)


# --- images.npy + labels.csv ---------------------------------------------------------------


def test_npy_with_single_string_label_column_and_header(tmp_path):
    np.save(tmp_path / "images.npy", gray_images(4))
    (tmp_path / "labels.csv").write_text("diagnosis\npneumonia\nnormal\nnormal\npneumonia\n")
    ds = load_dataset(str(tmp_path))
    assert ds.class_names == ("normal", "pneumonia")
    assert ds.labels.tolist() == [1, 0, 0, 1]
    assert ds.official_split is None


def test_npy_with_index_label_columns_in_any_order(tmp_path):
    np.save(tmp_path / "images.npy", gray_images(4, 6)[..., None].repeat(3, axis=-1))
    (tmp_path / "y.csv").write_text("index,label\n3,b\n0,a\n2,b\n1,c\n")
    ds = load_dataset(str(tmp_path / "images.npy"), labels="y.csv")
    assert ds.image_shape == (6, 6, 3)
    assert ds.class_names == ("a", "b", "c")
    assert ds.labels.tolist() == [0, 2, 1, 1]


def test_npy_integer_labels_without_header_keep_numeric_order(tmp_path):
    np.save(tmp_path / "images.npy", gray_images(4))
    (tmp_path / "labels.csv").write_text("10\n2\n2\n10\n")
    ds = load_dataset(str(tmp_path))
    assert ds.class_names == ("2", "10")
    assert ds.labels.tolist() == [1, 0, 0, 1]


# --- class-folder trees --------------------------------------------------------------------


def test_folder_tree_with_split_folders(tmp_path):
    write_png_tree(tmp_path, {"train/NORMAL": 3, "train/PNEUMONIA": 2, "test/NORMAL": 1,
                              "test/PNEUMONIA": 2})  # fmt: skip
    ds = load_dataset(str(tmp_path))
    assert ds.class_names == ("NORMAL", "PNEUMONIA")
    assert ds.images.shape == (8, 8, 8, 1)
    assert {k: len(v) for k, v in ds.official_split.items()} == {"train": 5, "test": 3}
    assert ds.labels[ds.official_split["test"]].tolist() == [0, 1, 1]


def test_folder_tree_without_splits_resizes_mixed_sizes_to_64_and_reads_rgb(tmp_path):
    write_png_tree(tmp_path, {"cats": 2, "dogs": 2}, sizes=[10, 20])
    ds = load_dataset(str(tmp_path), channels=3)
    assert ds.official_split is None
    assert ds.images.shape == (4, 64, 64, 3)
    sized = load_dataset(str(tmp_path), image_size=16)
    assert sized.images.shape == (4, 16, 16, 1)


# --- transforms ----------------------------------------------------------------------------


def test_resize_and_channel_conversion():
    images = np.full((2, 16, 16, 1), 200, dtype=np.uint8)
    images[1] = 10
    images[1, :, 8:] = 250
    small = resize_images(images, 8)
    assert small.dtype == np.uint8 and small.shape == (2, 8, 8, 1)
    assert (small[0] == 200).all()
    assert small[1, :, :3].max() == 10 and small[1, :, 5:].min() == 250
    rgb = to_channels(images, 3)
    assert rgb.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(to_channels(rgb, 1), images)


def test_load_dataset_applies_image_size_and_channels(tmp_path):
    write_medmnist_npz(tmp_path / "mini.npz")
    ds = load_dataset(str(tmp_path / "mini.npz"), image_size=16, channels=3)
    assert ds.images.shape == (12, 16, 16, 3)
    assert ds.official_split is not None


# --- synthetic-cxr -------------------------------------------------------------------------


def test_synthetic_is_deterministic_per_seed_with_the_stated_proportions():
    a = load_dataset("synthetic-cxr", n=400, seed=3)
    b = load_dataset("synthetic-cxr", n=400, seed=3)
    c = load_dataset("synthetic-cxr", n=400, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (400, 32, 32, 1)
    assert a.class_names == ("healthy", "diffuse-opacity", "focal-mass")
    shares = np.bincount(a.labels) / len(a.labels)
    np.testing.assert_allclose(shares, [0.79, 0.18, 0.03], atol=0.01)
    assert load_dataset("synthetic-cxr", n=40, size=16).images.shape == (40, 16, 16, 1)


def test_synthetic_is_learnable_but_not_trivial():
    ds = load_dataset("synthetic-cxr")  # the defaults: 1500 images of 32 x 32
    pixels = ds.images.reshape(len(ds.images), -1).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, ds.labels, test_size=0.3, stratify=ds.labels, random_state=0
    )
    with threadpool_limits(1):  # BLAS threads only slow a problem this small
        plain = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        weighted = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.01, class_weight="balanced", max_iter=1000)
        )
        plain_pred = plain.fit(x_train, y_train).predict(x_test)
        weighted_pred = weighted.fit(x_train, y_train).predict(x_test)
    assert accuracy_score(y_test, plain_pred) < 1.0
    assert accuracy_score(y_test, weighted_pred) < 1.0
    assert balanced_accuracy_score(y_test, weighted_pred) > 0.6  # majority class: 1/3


def test_synthetic_generation_time(benchmark):
    """Runs only with --benchmark-only (skipped by default): 1500 images of 32 px in < 3 s."""
    ds = benchmark.pedantic(load_dataset, args=("synthetic-cxr",), rounds=3)
    assert len(ds.labels) == 1500
    assert benchmark.stats.stats.min < 3.0


# --- registered MedMNIST files: local, download, offline -----------------------------------


@pytest.fixture
def no_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HYBENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("HYBENCH_CACHE_DIR", str(tmp_path / "cache"))


def test_registered_medmnist_uses_a_local_file_from_env_data_dir(tmp_path, monkeypatch):
    write_medmnist_npz(tmp_path / "pneumoniamnist.npz")
    monkeypatch.setenv("HYBENCH_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", pytest.fail)
    ds = load_dataset("pneumoniamnist")
    assert ds.name == "pneumoniamnist"
    assert ds.class_names == ("normal", "pneumonia")
    assert len(ds.official_split["val"]) == 2


def test_registered_medmnist_downloads_with_url_and_md5(tmp_path, monkeypatch, no_data_dir):
    fake = tmp_path / "fetched.npz"
    write_medmnist_npz(fake)
    calls = []

    def retrieve(url, known_hash=None, **kwargs):
        calls.append((url, known_hash, kwargs))
        return str(fake)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    ds = load_dataset("pneumoniamnist", data_dir=tmp_path / "empty")
    assert ds.source == str(fake) and len(ds.labels) == 12
    url, known_hash, kwargs = calls[0]
    assert url == "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1"
    assert known_hash == "md5:28209eda62fecd6e6a2d98b1501bb15f"
    assert kwargs["fname"] == "pneumoniamnist.npz"
    assert str(kwargs["path"]).startswith(str(tmp_path / "cache"))

    load_dataset("breastmnist", size=64)
    assert calls[1][0] == ZENODO_URL.format(file="breastmnist_64.npz")
    assert calls[1][1] == "md5:742edef2a1fd1524b2efff4bd7ba9364"


def test_offline_download_failure_is_one_line(monkeypatch, no_data_dir):
    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known\nmore detail")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(HybenchError) as excinfo:
        load_dataset("pneumoniamnist")
    assert_one_line_error(excinfo, "pneumoniamnist.npz", "DATA_DIR", "--data-dir")


@pytest.mark.shared
@requires_pneumonia
def test_real_pneumoniamnist_official_split():
    ds = load_dataset("pneumoniamnist", data_dir=PNEUMONIA_NPZ.parent)
    assert {k: len(v) for k, v in ds.official_split.items()} == {
        "train": 4708, "val": 524, "test": 624,
    }  # fmt: skip
    assert ds.class_names == ("normal", "pneumonia")
    assert ds.images.shape[1:] == (28, 28, 1)
    by_path = load_dataset(str(PNEUMONIA_NPZ))
    assert by_path.class_names == ds.class_names
    assert by_path.fingerprint() == ds.fingerprint()


def test_list_datasets_names_where_each_looks():
    infos = {info.name: info for info in list_datasets()}
    assert {"pneumoniamnist", "synthetic-cxr", "breastmnist"} <= set(infos)
    assert "chestmnist" not in infos  # multi-label
    assert "pneumoniamnist.npz" in infos["pneumoniamnist"].where


# --- bad input -----------------------------------------------------------------------------


def _npz(tmp_path, **arrays) -> str:
    np.savez(tmp_path / "d.npz", **arrays)
    return str(tmp_path / "d.npz")


def _npy_csv(tmp_path, images, labels_text: str | None = "0\n1\n0\n1\n") -> str:
    np.save(tmp_path / "images.npy", images)
    if labels_text is not None:
        (tmp_path / "labels.csv").write_text(labels_text)
    return str(tmp_path)


def _corrupt_npz(tmp_path) -> str:
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    return str(tmp_path / "bad.npz")


def _corrupt_npy(tmp_path) -> str:
    _npy_csv(tmp_path, gray_images(4))
    (tmp_path / "images.npy").write_bytes(b"\x93NUMPY garbage")
    return str(tmp_path)


def _nan_images(tmp_path) -> str:
    images = np.zeros((4, 8, 8), dtype=np.float32)
    images[0, 0, 0] = np.nan
    return _npy_csv(tmp_path, images)


def _empty_class_folder(tmp_path) -> str:
    write_png_tree(tmp_path, {"a": 2})
    (tmp_path / "b").mkdir()
    return str(tmp_path)


def _unreadable_image(tmp_path) -> str:
    write_png_tree(tmp_path, {"a": 2, "b": 2})
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    return str(tmp_path)


def _split_class_mismatch(tmp_path) -> str:
    write_png_tree(tmp_path, {"train/a": 1, "train/b": 1, "test/a": 1, "test/c": 1})
    return str(tmp_path)


BAD_INPUTS = {
    "unknown name": (lambda p: "no-such-dataset", "unknown dataset"),
    "missing file": (lambda p: str(p / "missing.npz"), "not found"),
    "corrupt npz": (_corrupt_npz, "not a valid .npz"),
    "corrupt npy": (_corrupt_npy, "not a valid .npy"),
    "missing labels csv": (lambda p: _npy_csv(p, gray_images(4), None), "labels file not found"),
    "count mismatch": (lambda p: _npy_csv(p, gray_images(4), "0\n1\n0\n"), "4 images but 3"),
    "single class": (lambda p: _npz(p, images=gray_images(4), labels=np.zeros(4, int)), "single"),
    "NaN images": (_nan_images, "NaN"),
    "wrong dtype": (lambda p: _npy_csv(p, gray_images(4).astype(np.int32)), "uint8"),
    "multi-label": (lambda p: _npz(p, images=gray_images(4), labels=np.ones((4, 3), int)), "multi"),
    "wrong npz keys": (lambda p: _npz(p, x=np.zeros(2)), "not images/labels"),
    "empty class folder": (_empty_class_folder, "holds no"),
    "unreadable image": (_unreadable_image, "broken.png"),
    "split class mismatch": (_split_class_mismatch, "class folders differ"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_one_line_hybench_error(tmp_path, case):
    make_spec, expected = BAD_INPUTS[case]
    with pytest.raises(HybenchError) as excinfo:
        load_dataset(make_spec(tmp_path))
    assert_one_line_error(excinfo, expected)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"spec": "synthetic-cxr", "bogus": 1}, "no option(s) bogus"),
        ({"spec": "synthetic-cxr", "n": 5}, "n must be"),
        ({"spec": "synthetic-cxr", "image_size": 0}, "image size"),
        ({"spec": "synthetic-cxr", "channels": 2}, "channels"),
        ({"spec": "pneumoniamnist", "size": 100}, "no 100 px"),
    ],
)
def test_bad_options_raise_one_line_hybench_error(kwargs, expected):
    with pytest.raises(HybenchError) as excinfo:
        load_dataset(**kwargs)
    assert_one_line_error(excinfo, expected)


def test_downloads_go_to_the_one_cache_root_that_cache_dir_names(tmp_path, monkeypatch,
                                                                 no_data_dir):
    fake = tmp_path / "fetched.npz"
    write_medmnist_npz(fake)
    paths = []
    monkeypatch.setattr(pooch, "retrieve", lambda url, **kw: paths.append(kw["path"]) or fake)
    load_dataset("pneumoniamnist", cache_dir=tmp_path / "flag-root")
    load_dataset("pneumoniamnist")  # no flag: $HYBENCH_CACHE_DIR
    assert paths == [tmp_path / "flag-root" / "datasets", tmp_path / "cache" / "datasets"]


@pytest.fixture
def loopback_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "served"``; stopped after the test."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_real_download_from_a_loopback_server_checks_the_md5(loopback_server, tmp_path,
                                                             monkeypatch):
    import hashlib

    from hybench.data import DataPaths, medmnist

    served, base = loopback_server
    write_medmnist_npz(served / "pneumoniamnist.npz")
    md5 = hashlib.md5((served / "pneumoniamnist.npz").read_bytes()).hexdigest()
    monkeypatch.setattr(medmnist, "ZENODO_URL", base + "/{file}")
    paths = DataPaths(data_dir=None, downloads=tmp_path / "root" / "datasets")
    info = medmnist.MedMNISTInfo("pneumoniamnist", "test", ("normal", "pneumonia"),
                                 (md5, "x", "x", "x"))
    path = medmnist.fetch_medmnist(info, 28, paths)
    assert path == tmp_path / "root" / "datasets" / "pneumoniamnist.npz" and path.is_file()
    wrong = medmnist.MedMNISTInfo("breastmnist", "test", ("a", "b"), ("0" * 32, "x", "x", "x"))
    (served / "breastmnist.npz").write_bytes(b"not the file the checksum names")
    with pytest.raises(HybenchError, match="breastmnist.npz is not in DATA_DIR and downloading"):
        medmnist.fetch_medmnist(wrong, 28, paths)
    assert not (tmp_path / "root" / "datasets" / "breastmnist.npz").exists()
