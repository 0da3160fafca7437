"""CNN entries trained from scratch on raw uint8 images (family ``cnn``, feature ``image``).

Every model scales pixels by 1/255 and, when the images are smaller than the architecture needs,
upsamples them with a ``Resizing`` layer, both inside the model so inference takes raw images.
Architectures follow the seed projects; the output layer is always softmax over ``n_classes``
trained with sparse categorical cross-entropy. Keras is imported only when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hybench.models.registry import register_model

CNN_IMBALANCE = ("none", "class-weight", "oversample")
TRAINING_OPTIONS = ("epochs", "batch_size", "monitor", "patience", "verbose")  # KerasClassifier
MNIST_SIDE = 28


def _layers():
    import keras

    return keras.layers


def image_inputs(input_shape: tuple[int, ...], min_side: int = MNIST_SIDE):
    """``(inputs, x)``: raw-image input and its 1/255-scaled tensor, upsampled to ``min_side``."""
    import keras

    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    height, width = input_shape[:2]
    if min(height, width) < min_side:
        scale = min_side / min(height, width)
        x = keras.layers.Resizing(round(height * scale), round(width * scale))(x)
    return inputs, x


def stack(input_shape: tuple[int, ...], n_classes: int, layers: list, min_side: int = MNIST_SIDE):
    """A model: scaled input, ``layers`` in order, then a softmax layer of width ``n_classes``."""
    import keras

    inputs, x = image_inputs(input_shape, min_side)
    for layer in layers:
        x = layer(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def adadelta():
    """Adadelta at learning rate 1.0, as the classic Keras ``mnist_cnn`` example.

    With Keras 3's default rate (0.001) ``seed000-cnn8`` learned nothing on the quick profile's
    synthetic data (macro ROC-AUC 0.46-0.48 after 5-10 epochs).
    """
    import keras

    return keras.optimizers.Adadelta(learning_rate=1.0)


def adam():
    import keras

    return keras.optimizers.Adam()


def register_cnn(
    name: str,
    build: Callable,
    *,
    description: str,
    optimizer: Callable = adam,
    augment: bool = False,
    monitor: str = "val_loss",
    schedule: str | None = None,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Register a ``KerasClassifier`` entry; the run's model options override ``defaults``."""

    @register_model(name, family="cnn", features="image", imbalance=CNN_IMBALANCE,
                    needs_validation=True, description=description, options=TRAINING_OPTIONS)
    def factory(*, imbalance: str, seed: int, n_classes: int, **options: Any):
        from hybench.models.keras_estimator import Augment, KerasClassifier

        training = {"monitor": monitor, **(defaults or {}), **options}
        return KerasClassifier(build, n_classes=n_classes, seed=seed, imbalance=imbalance,
                               optimizer=optimizer, augment=Augment() if augment else None,
                               schedule=schedule, **training)


def _conv(filters: int, **kwargs: Any):
    return _layers().Conv2D(filters, 3, activation="relu", **kwargs)


# --- seed 000: the Keras mnist_cnn family, Adadelta ---------------------------------------------
def seed000_cnn8(shape, n):
    L = _layers()
    return stack(shape, n, [_conv(32), _conv(64), L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
                            L.Dense(64, activation="relu"), L.Dropout(0.5)])


def seed000_cnn6(shape, n):
    L = _layers()
    return stack(shape, n, [_conv(32), L.MaxPooling2D(), L.Flatten(),
                            L.Dense(64, activation="relu"), L.Dropout(0.5)])


def seed000_cnn4(shape, n):
    L = _layers()
    return stack(shape, n, [_conv(32), L.MaxPooling2D(), L.Flatten()])


# --- seed 001: Conv-MaxPool-Dropout blocks, Dense-relu head, Adam --------------------------------
def _seed001(shape, n, filters: tuple[int, ...]):
    L = _layers()
    blocks = [layer for f in filters for layer in (_conv(f), L.MaxPooling2D(), L.Dropout(0.25))]
    return stack(shape, n, [*blocks, L.Flatten(), L.Dense(128, activation="relu")])


def seed001_cnn1(shape, n):
    return _seed001(shape, n, (32,))


def seed001_cnn2(shape, n):
    return _seed001(shape, n, (32, 64))


# --- seed 002: MLPs and plain CNNs, Adam ---------------------------------------------------------
def seed002_mlp1(shape, n):
    L = _layers()
    return stack(shape, n, [L.Flatten(), L.Dense(128, activation="relu")])


def seed002_mlp3(shape, n):
    L = _layers()
    return stack(shape, n, [L.Flatten(), *(L.Dense(64, activation="relu") for _ in range(3))])


def seed002_cnn3(shape, n):
    return stack(shape, n, [_conv(128), _conv(64), _conv(32), _layers().Flatten()])


def seed002_cnn4(shape, n):
    L = _layers()
    return stack(shape, n, [_conv(32), _conv(64), L.MaxPooling2D(), L.Dropout(0.25),
                            _conv(128), L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
                            L.Dense(64, activation="relu"), L.Dropout(0.5)])


# --- seed 004: Conv-(BN)-MaxPool-Dropout blocks, monitored on validation PR-AUC -------------------
def seed004_cnn_bn(shape, n):
    L = _layers()
    blocks = [layer for f in (32, 64, 128, 256) for layer in (
        _conv(f, padding="same"), L.BatchNormalization(), L.MaxPooling2D(), L.Dropout(0.2))]
    return stack(shape, n, [*blocks, L.Flatten(), L.Dense(64, activation="relu"),
                            L.Dense(64, activation="relu")], min_side=32)


def seed004_mnist_like(shape, n):
    L = _layers()
    blocks = [layer for f in (32, 64, 128) for layer in (
        _conv(f, padding="same"), L.MaxPooling2D(), L.Dropout(0.15))]
    return stack(shape, n, [*blocks, L.Flatten(), L.Dense(64, activation="relu")])


# --- resnet-small: the suite's own strong CNN ----------------------------------------------------
def _bn():
    """Batch norm with momentum 0.9: moving statistics settle within the first epochs."""
    return _layers().BatchNormalization(momentum=0.9)


def _residual(x, filters: int, stride: int):
    """Basic residual block: two 3x3 conv-BN, 1x1 projection shortcut when the shape changes."""
    L = _layers()
    y = L.ReLU()(_bn()(L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)))
    y = _bn()(L.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _bn()(L.Conv2D(filters, 1, strides=stride, use_bias=False)(x))
    return L.ReLU()(L.Add()([y, shortcut]))


def resnet_small(shape, n):
    """Stem conv 24, three stride-2 residual stages (48, 96, 192), global pooling, dropout 0.3.

    A fixed architecture (not tuned by any committed command).
    """
    import keras

    L = keras.layers
    inputs, x = image_inputs(shape)
    x = L.ReLU()(_bn()(L.Conv2D(24, 3, padding="same", use_bias=False)(x)))
    for filters in (48, 96, 192):
        x = _residual(x, filters, stride=2)
    x = L.Dropout(0.3)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.Dense(n, activation="softmax")(x))


register_cnn("seed000-cnn8", seed000_cnn8, optimizer=adadelta,
             description="seed 000: Conv32-Conv64-MaxPool-Drop.25-Dense64-Drop.5 (Adadelta)")
register_cnn("seed000-cnn6", seed000_cnn6, optimizer=adadelta,
             description="seed 000: Conv32-MaxPool-Dense64-Drop.5 (Adadelta)")
register_cnn("seed000-cnn4", seed000_cnn4, optimizer=adadelta,
             description="seed 000: Conv32-MaxPool-softmax (Adadelta)")
register_cnn("seed001-cnn1", seed001_cnn1,
             description="seed 001: one Conv-MaxPool-Drop block, Dense128 (Adam)")
register_cnn("seed001-cnn2", seed001_cnn2,
             description="seed 001: two Conv-MaxPool-Drop blocks, Dense128 (Adam)")
register_cnn("seed002-mlp1", seed002_mlp1, description="seed 002: Flatten-Dense128 (Adam)")
register_cnn("seed002-mlp3", seed002_mlp3, description="seed 002: Flatten-3xDense64 (Adam)")
register_cnn("seed002-cnn3", seed002_cnn3, description="seed 002: Conv128-Conv64-Conv32 (Adam)")
register_cnn("seed002-cnn4", seed002_cnn4,
             description="seed 002: Conv32-Conv64-Pool-Conv128-Pool-Dense64, dropout (Adam)")
register_cnn("seed004-cnn-bn", seed004_cnn_bn, augment=True, monitor="val_pr_auc",
             description="seed 004: 4 Conv-BN-Pool-Drop blocks, Dense64x2 (Adam, val PR-AUC)")
register_cnn("seed004-mnist-like", seed004_mnist_like, augment=True, monitor="val_pr_auc",
             description="seed 004: 3 Conv-Pool-Drop.15 blocks, Dense64 (Adam, val PR-AUC)")
register_cnn("resnet-small", resnet_small, augment=True, schedule="cosine",
             defaults={"epochs": 20, "batch_size": 64, "patience": 8},
             description="small residual CNN, batch norm, augmentation, cosine schedule (Adam)")
