"""Frozen pretrained ``keras.applications`` backbones as features: ``embed-<backbone>``.

Each image is replicated to 3 channels if grayscale, resized to ``input_size`` inside the network,
passed through the backbone's own ``preprocess_input`` and the frozen convolutional base
(``include_top=False``, global average pooling), giving float32 rows ``(N, D)``.

``weights``: ``"imagenet"`` reads the file Keras itself caches in ``$KERAS_HOME/models`` (default
``~/.keras/models``) and never downloads: a missing file raises :class:`WeightsUnavailable`
naming the file and the folder. ``"none"`` is random initialisation; any other value is a path to
a ``.h5`` / ``.keras`` weights file. ``get_feature`` fills ``weights_sha256`` with the resolved
file's sha256, so cached embeddings never mix weight files; a value given beforehand pins the file
(a different file is an error). TensorFlow is imported lazily.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybench.errors import HybenchError, ResourceUnavailable
from hybench.features.registry import register_feature

MIN_INPUT_SIZE = 32
DEFAULT_INPUT_SIZE = 96  # a fixed default (not tuned by any committed command)
MAX_INPUT_SIZE = 1024
EMBED_BATCH = 64
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
_KERAS_BUCKET = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsUnavailable(ResourceUnavailable):
    """Pretrained weights are not in the local Keras cache (downloads are never attempted)."""


@dataclass(frozen=True)
class Backbone:
    """A ``keras.applications`` base network and where Keras keeps its ImageNet no-top weights."""

    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications submodule holding preprocess_input
    weights_file: str
    url_folder: str
    default_size: int = DEFAULT_INPUT_SIZE
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def url(self) -> str:
        return self.url_folder + self.weights_file


# MobileNets: Keras picks the 224 file for every size outside 128/160/192/224; the weights do not
# depend on the input size, so the 224 file serves all sizes here.
BACKBONES = {
    b.name: b for b in (
        Backbone("mobilenet-0.25", "MobileNet", "mobilenet", "mobilenet_2_5_224_tf_no_top.h5",
                 _KERAS_BUCKET + "mobilenet/", kwargs=(("alpha", 0.25),)),
        Backbone("mobilenet-1.0", "MobileNet", "mobilenet", "mobilenet_1_0_224_tf_no_top.h5",
                 _KERAS_BUCKET + "mobilenet/", kwargs=(("alpha", 1.0),)),
        Backbone("mobilenetv2", "MobileNetV2", "mobilenet_v2",
                 "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
                 _KERAS_BUCKET + "mobilenet_v2/"),
        Backbone("efficientnetb0", "EfficientNetB0", "efficientnet", "efficientnetb0_notop.h5",
                 "https://storage.googleapis.com/keras-applications/"),
        Backbone("resnet50", "ResNet50", "resnet50",
                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                 _KERAS_BUCKET + "resnet/"),
        Backbone("densenet121", "DenseNet121", "densenet",
                 "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                 _KERAS_BUCKET + "densenet/"),
        Backbone("vgg16", "VGG16", "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                 _KERAS_BUCKET + "vgg16/"),
        Backbone("vgg19", "VGG19", "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                 _KERAS_BUCKET + "vgg19/"),
    )
}


def keras_cache_dir() -> Path:
    """Where Keras caches application weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(home).expanduser() / "models"


def resolve_weights(backbone: str, weights: str) -> Path | None:
    """The weights file to load (``None`` = random init), checked to exist before any use."""
    spec = BACKBONES[backbone]
    if weights == "none":
        return None
    if weights == "imagenet":
        folder = keras_cache_dir()
        path = folder / spec.weights_file
        if not path.is_file():
            raise WeightsUnavailable(
                f"ImageNet weights for {backbone} not found: no {spec.weights_file} in {folder}",
                f"download {spec.url} into {folder} (or set KERAS_HOME), "
                "or pass weights=\"none\" for random weights",
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file() or not path.name.endswith((".h5", ".keras")):
        raise HybenchError(
            f"weights for {backbone} must be \"imagenet\", \"none\" or an existing .h5/.keras "
            f"file, got {weights!r}", "fix the weights feature parameter",
        )
    return path


@functools.cache
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the memo key only: a rewritten file is hashed again
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    stat = path.stat()
    return _file_sha256(path.resolve(), stat.st_size, stat.st_mtime_ns)


def check_input_size(backbone: str, input_size: Any) -> int:
    if (isinstance(input_size, bool) or not isinstance(input_size, int | np.integer)
            or not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE):
        raise HybenchError(
            f"{backbone}: input_size must be an integer from {MIN_INPUT_SIZE} to "
            f"{MAX_INPUT_SIZE}, got {input_size!r}", "pass e.g. input_size=64, 128 or 224",
        )
    return int(input_size)


@functools.lru_cache(maxsize=4)
def frozen_backbone(backbone: str, input_size: int, weights_path: Path | None):
    """The frozen base network (``include_top=False``, average pooling) with weights loaded."""
    import keras

    spec = BACKBONES[backbone]
    base = getattr(keras.applications, spec.constructor)(
        include_top=False, weights=None, input_shape=(input_size, input_size, 3), pooling="avg",
        **dict(spec.kwargs),
    )
    if weights_path is not None:
        try:
            base.load_weights(weights_path)
        except Exception as exc:
            raise HybenchError(
                f"cannot load {weights_path} into {backbone}: {type(exc).__name__}: {exc}",
                f"pass weights saved from keras.applications.{spec.constructor}(include_top=False)",
            ) from exc
        is_imagenet_file = weights_path.name == spec.weights_file
        if spec.constructor.startswith("EfficientNet") and is_imagenet_file:
            _fold_efficientnet_stddev(base)
    base.trainable = False
    return base


def _fold_efficientnet_stddev(base) -> None:
    """Match ``EfficientNet(weights="imagenet")``: Keras adds a ``Rescaling(1/sqrt(stddev))`` after
    the input ``Normalization`` only for ImageNet weights; folding it into the normalisation
    variance gives the same output for weights loaded from the file.
    """
    import keras

    norm = next(layer for layer in base.layers if isinstance(layer, keras.layers.Normalization))
    mean, variance, count = norm.get_weights()
    norm.set_weights([mean, variance * np.asarray(IMAGENET_STDDEV_RGB, variance.dtype), count])
    norm.finalize_state()  # the layer computes with tensors derived from its variables


@functools.lru_cache(maxsize=4)
def embedding_model(backbone: str, input_size: int, weights_path: Path | None):
    """Raw RGB floats of any size -> resize -> ``preprocess_input`` -> frozen backbone."""
    import importlib

    import keras

    preprocess = importlib.import_module(
        f"keras.applications.{BACKBONES[backbone].module}").preprocess_input
    inputs = keras.Input(shape=(None, None, 3))
    x = keras.layers.Resizing(input_size, input_size, antialias=True)(inputs)
    x = keras.layers.Lambda(preprocess)(x)
    outputs = frozen_backbone(backbone, input_size, weights_path)(x, training=False)
    return keras.Model(inputs, outputs)


def embed(images: np.ndarray, backbone: str, input_size: int, weights: str) -> np.ndarray:
    """``(N, H, W, 1|3)`` uint8 images -> float32 ``(N, D)`` frozen-backbone embeddings."""
    size = check_input_size(backbone, input_size)
    model = embedding_model(backbone, size, resolve_weights(backbone, weights))
    parts = []
    for start in range(0, len(images), EMBED_BATCH):
        batch = np.asarray(images[start:start + EMBED_BATCH], dtype=np.float32)
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        parts.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32))
    width = model.output_shape[-1]
    return np.concatenate(parts) if parts else np.empty((0, width), dtype=np.float32)


def _register(backbone: str) -> None:
    spec = BACKBONES[backbone]

    def feature(
        images: np.ndarray, *, input_size: int, weights: str, weights_sha256: str | None
    ) -> np.ndarray:
        del weights_sha256  # cache key only
        return embed(images, backbone, input_size, weights)

    def resolve_params(params: dict[str, Any]) -> dict[str, Any]:
        """Check the params; set ``weights_sha256`` to the resolved file's hash (random: None)."""
        check_input_size(backbone, params["input_size"])
        path = resolve_weights(backbone, params["weights"])
        actual, pinned = file_sha256(path), params["weights_sha256"]
        if pinned is not None and pinned != actual:
            raise HybenchError(
                f"{backbone} weights {path} have sha256 {actual}, expected {pinned}",
                "restore the original weights file or drop the weights_sha256 parameter",
            )
        return {**params, "weights_sha256": actual}

    def count_params(*, input_size: int, **_: Any) -> int:
        """Parameters of the frozen backbone (the same for every weights file)."""
        return int(frozen_backbone(backbone, check_input_size(backbone, input_size),
                                   None).count_params())

    def files(params: dict[str, Any]) -> dict[str, Path]:
        path = resolve_weights(backbone, params["weights"])
        return {"weights": path} if path is not None else {}

    feature.__doc__ = f"{backbone} frozen ImageNet-style embedding (global average pooled)."
    register_feature(
        f"embed-{backbone}",
        defaults={"input_size": spec.default_size, "weights": "imagenet", "weights_sha256": None},
        parallel=False,  # one process runs the network batch by batch
        libraries=("numpy", "keras", "tensorflow"),
        resolve_params=resolve_params,
        count_params=count_params,
        files=files,
    )(feature)


for _name in BACKBONES:
    _register(_name)
