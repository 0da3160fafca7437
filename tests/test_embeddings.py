"""Frozen-backbone embeddings: weights resolution, caching, freezing (small inputs, 32 px)."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest

from hybench.errors import HybenchError
from hybench.features import get_feature
from hybench.features.cache import FeatureCache
from hybench.features.embeddings import BACKBONES, WeightsUnavailable, frozen_backbone
from tests.conftest import MOBILENET_H5, requires_mobilenet

SMALL = {"input_size": 32}


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache; any network connection attempt fails the test."""
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    return tmp_path


def test_every_backbone_is_a_feature() -> None:
    from hybench.features import list_features

    assert {f"embed-{name}" for name in BACKBONES} <= set(list_features())


@pytest.mark.parametrize("backbone", ["mobilenet-0.25", "resnet50"])
def test_missing_imagenet_weights_raise_naming_file_and_folder(backbone, keras_home) -> None:
    with pytest.raises(WeightsUnavailable) as caught:
        get_feature(f"embed-{backbone}")
    message = str(caught.value)
    assert BACKBONES[backbone].weights_file in message
    assert str(keras_home / "models") in message
    assert "\n" not in message


@requires_mobilenet
def test_shared_mobilenet_weights_load_from_keras_home(keras_home, images) -> None:
    (keras_home / "models" / MOBILENET_H5.name).symlink_to(MOBILENET_H5)
    feature = get_feature("embed-mobilenet-0.25", **SMALL)
    assert feature.params["weights_sha256"] == hashlib.sha256(MOBILENET_H5.read_bytes()).hexdigest()
    first, second = feature.transform(images), feature.transform(images)
    assert first.shape == (10, 256) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    random = get_feature("embed-mobilenet-0.25", weights="none", **SMALL).transform(images)
    assert not np.allclose(first, random)


def test_cache_key_follows_the_weights_file(tmp_path) -> None:
    features = []
    for name, content in (("a.h5", b"one"), ("b.h5", b"two"), ("c.h5", b"one")):
        (tmp_path / name).write_bytes(content)
        features.append(get_feature("embed-vgg16", weights=str(tmp_path / name)))
    a, b, c = (f.params["weights_sha256"] for f in features)
    assert a == c == hashlib.sha256(b"one").hexdigest() and a != b
    assert features[0].key() != features[1].key()
    with pytest.raises(HybenchError, match="sha256"):  # a given hash pins the file
        get_feature("embed-vgg16", weights=str(tmp_path / "a.h5"), weights_sha256=b)
    assert get_feature("embed-vgg16", weights="none").params["weights_sha256"] is None


def test_embedding_cache_hits_on_second_call(tmp_path, images) -> None:
    feature = get_feature("embed-mobilenet-0.25", weights="none", **SMALL)
    cache = FeatureCache(tmp_path)
    first, _, hit_first = cache.get_or_compute(feature, "dataset-fp", images, n_jobs=1)
    second, _, hit_second = cache.get_or_compute(feature, "dataset-fp", images, n_jobs=1)
    assert (hit_first, hit_second) == (False, True)
    np.testing.assert_array_equal(first, second)


def test_backbone_stays_frozen_while_the_head_trains(images) -> None:
    from hybench.models import create_model
    feature = get_feature("embed-mobilenet-0.25", weights="none", **SMALL)
    backbone = frozen_backbone("mobilenet-0.25", 32, None)
    before = [w.copy() for w in backbone.get_weights()]
    embeddings = feature.transform(images)
    labels = np.arange(10) % 2
    head = create_model("mobilenet-0.25-dense", imbalance="none", seed=0, n_classes=2,
                        epochs=2, batch_size=4)
    head.fit(embeddings, labels, validation_data=(embeddings, labels))
    assert backbone.trainable_weights == []
    for old, new in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(embeddings, feature.transform(images))
    assert feature.n_parameters() == backbone.count_params() > 0


@pytest.mark.parametrize(("backbone", "width"), [("mobilenetv2", 1280), ("efficientnetb0", 1280)])
def test_random_weights_give_embeddings_of_the_backbone_width(backbone, width, images) -> None:
    rgb = np.repeat(images[:3], 3, axis=-1)
    values = get_feature(f"embed-{backbone}", weights="none", **SMALL).transform(rgb)
    assert values.shape == (3, width) and np.isfinite(values).all()


@pytest.mark.parametrize("params", [{"input_size": 16}, {"weights": "/no/such/file.h5"},
                                    {"weights": "imagenet-ish"}])
def test_bad_embedding_params_are_user_errors_before_any_network_is_built(params) -> None:
    with pytest.raises(HybenchError):
        get_feature("embed-mobilenet-0.25", **{"weights": "none", **params})
