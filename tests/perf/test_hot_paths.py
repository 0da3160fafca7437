"""Benchmarks of hybench's hot paths on 1000 synthetic 28 px X-rays (2-core sized).

Skipped by the default ``--benchmark-skip``; run with ``make perf`` (``pytest tests/perf
--benchmark-only``). Slow calls use ``benchmark.pedantic`` with fixed rounds so runs compare.
TensorFlow, scikit-learn and XGBoost load inside fixtures only, never at collection.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from hybench.features import get_feature
from hybench.features.cache import compute_features
from hybench.features.embeddings import BACKBONES
from tests.conftest import MOBILENET_H5, REPO
from tests.perf.conftest import IMAGE_SIZE, N_IMAGES

FEATURE_ROUNDS = {"pixels": 20, "hog": 20}
SKIMAGE_HOG_ROUNDS = 3  # scikit-image's per-image loop: ~0.5 s a round
FIT_ROUNDS = {"hog-logreg": 3, "hog-xgb": 1}  # hog-xgb: ~7 s per 200-tree fit
EMBED_BACKBONE = "mobilenet-0.25"
EMBED_INPUT_SIZE = 32
CNN_ENTRY = "seed000-cnn6"
CNN_TRAIN_ROWS = 300
CNN_BATCHES = (1, 256)


def new_model(name: str):
    """A fresh, unfitted binary entry."""
    from hybench.models import create_model
    return create_model(name, imbalance="none", seed=0, n_classes=2)


def fit(model, X: np.ndarray, y: np.ndarray):
    return model.fit(X, y)


# --- features -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n_jobs"),
    [
        pytest.param(name, n_jobs, id=f"{name}-jobs{n_jobs}",
                     marks=pytest.mark.benchmark(group=f"features-{name}"))
        for name in FEATURE_ROUNDS
        for n_jobs in (1, 2)
    ],
)
def test_feature_extraction(benchmark, cxr_images, name: str, n_jobs: int) -> None:
    """``compute_features`` serial (one call) and over 2 loky workers (batches of 256)."""
    feature = get_feature(name)
    rows = benchmark.pedantic(compute_features, args=(feature, cxr_images),
                              kwargs={"n_jobs": n_jobs}, rounds=FEATURE_ROUNDS[name],
                              warmup_rounds=1)  # the warm-up also starts the worker pool
    benchmark.extra_info.update(images=N_IMAGES, image_size=IMAGE_SIZE, columns=rows.shape[1])
    assert rows.shape[0] == N_IMAGES and rows.dtype == np.float32


def skimage_hog_loop(images: np.ndarray) -> np.ndarray:
    """The ``hog`` feature before its batch version: ``skimage.feature.hog`` (default params)
    once per image in a Python loop, as float32 rows."""
    from skimage.feature import hog

    from hybench.features.image import HOG_DEFAULTS, to_gray

    cell, block = HOG_DEFAULTS["pixels_per_cell"], HOG_DEFAULTS["cells_per_block"]
    rows = [hog(image, orientations=HOG_DEFAULTS["orientations"], pixels_per_cell=(cell, cell),
                cells_per_block=(block, block), block_norm=HOG_DEFAULTS["block_norm"])
            for image in to_gray(images)]
    return np.asarray(rows, dtype=np.float32)


@pytest.fixture(scope="module")
def hog_feature_seconds(cxr_images) -> float:
    """Best of 10 serial calls of the ``hog`` feature on all images (after a warm-up call)."""
    feature = get_feature("hog")
    feature.transform(cxr_images)
    seconds = []
    for _ in range(10):
        start = time.perf_counter()
        feature.transform(cxr_images)
        seconds.append(time.perf_counter() - start)
    return min(seconds)


@pytest.mark.benchmark(group="features-hog")
def test_hog_skimage_loop(benchmark, cxr_images, hog_feature_seconds) -> None:
    """scikit-image's per-image loop on the same images, beside ``hog-jobs1`` (the table's
    ratios compare them); ``extra_info`` has both speeds (best round, one process) and
    ``speedup`` = loop time / ``hog`` feature time."""
    rows = benchmark.pedantic(skimage_hog_loop, args=(cxr_images,), rounds=SKIMAGE_HOG_ROUNDS,
                              warmup_rounds=1)
    loop_seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(
        images=N_IMAGES, image_size=IMAGE_SIZE,
        skimage_images_per_s=round(N_IMAGES / loop_seconds),
        hybench_images_per_s=round(N_IMAGES / hog_feature_seconds),
        speedup=round(loop_seconds / hog_feature_seconds, 1),
    )
    np.testing.assert_allclose(rows, get_feature("hog").transform(cxr_images), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def mobilenet_embedding(tmp_path_factory):
    """``(feature, weights)``: MobileNet-0.25 at 32 px, with the shared ImageNet weights placed in
    a temporary ``KERAS_HOME`` when ``../shared`` has them, else random (``weights="none"``)."""
    home = tmp_path_factory.mktemp("keras-home")
    (home / "models").mkdir()
    weights = "none"
    if MOBILENET_H5.exists():
        (home / "models" / BACKBONES[EMBED_BACKBONE].weights_file).symlink_to(MOBILENET_H5)
        weights = "imagenet"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home))
        feature = get_feature(f"embed-{EMBED_BACKBONE}", input_size=EMBED_INPUT_SIZE,
                              weights=weights)
        yield feature, weights


@pytest.mark.benchmark(group="embeddings")
def test_embedding_extraction(benchmark, mobilenet_embedding, cxr_images) -> None:
    """Frozen MobileNet-0.25 embeddings of all images (in-process, batches of 64)."""
    feature, weights = mobilenet_embedding
    rows = benchmark.pedantic(compute_features, args=(feature, cxr_images),
                              kwargs={"n_jobs": 2}, rounds=5,
                              warmup_rounds=1)  # the warm-up builds the network
    benchmark.extra_info.update(weights=weights, input_size=EMBED_INPUT_SIZE, images=N_IMAGES)
    assert rows.shape == (N_IMAGES, 256) and np.isfinite(rows).all()


# --- classical entries --------------------------------------------------------------------------


@pytest.mark.benchmark(group="classical-fit")
@pytest.mark.parametrize("name", FIT_ROUNDS)
def test_classical_fit(benchmark, name: str, hog_rows, binary_labels) -> None:
    """Fit a fresh entry on 1000 HOG rows (building it is not timed)."""
    fitted = benchmark.pedantic(fit, setup=lambda: ((new_model(name), hog_rows, binary_labels), {}),
                                rounds=FIT_ROUNDS[name])
    benchmark.extra_info.update(rows=hog_rows.shape[0], columns=hog_rows.shape[1])
    assert list(fitted.classes_) == [0, 1]


@pytest.fixture(scope="module")
def fitted_classical(hog_rows, binary_labels) -> dict:
    """Each benchmarked classical entry, fitted once on the HOG rows."""
    return {name: new_model(name).fit(hog_rows, binary_labels) for name in FIT_ROUNDS}


@pytest.mark.benchmark(group="classical-predict")
@pytest.mark.parametrize("name", FIT_ROUNDS)
def test_classical_predict_proba(benchmark, name: str, fitted_classical, hog_rows) -> None:
    """``predict_proba`` on 1000 HOG rows (timing only: they are the training rows)."""
    proba = benchmark(fitted_classical[name].predict_proba, hog_rows)
    benchmark.extra_info.update(rows=hog_rows.shape[0])
    assert proba.shape == (N_IMAGES, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


# --- CNN inference ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_cnn(cxr_images, binary_labels):
    """``CNN_ENTRY`` after one epoch on ``CNN_TRAIN_ROWS`` images, traced for each batch size."""
    from hybench.models import create_model
    estimator = create_model(CNN_ENTRY, imbalance="none", seed=0, n_classes=2, epochs=1,
                             batch_size=32)
    estimator.fit(cxr_images[:CNN_TRAIN_ROWS], binary_labels[:CNN_TRAIN_ROWS])
    for batch in CNN_BATCHES:
        estimator.predict_proba(cxr_images[:batch])
    return estimator


@pytest.mark.benchmark(group="cnn-inference")
@pytest.mark.parametrize("batch", CNN_BATCHES)
def test_cnn_predict_proba(benchmark, fitted_cnn, cxr_images, batch: int) -> None:
    """End-to-end ``predict_proba`` from raw uint8 images (scaling happens inside the model)."""
    proba = benchmark(fitted_cnn.predict_proba, cxr_images[:batch])
    benchmark.extra_info.update(entry=CNN_ENTRY, batch=batch, n_params=fitted_cnn.n_params_)
    assert proba.shape == (batch, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


# --- guard --------------------------------------------------------------------------------------


def test_collecting_the_benchmarks_does_not_import_tensorflow() -> None:
    """Keeps the default run (``--benchmark-skip``) fast: TensorFlow loads in fixtures only."""
    code = "import sys, tests.perf.test_hot_paths; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"
