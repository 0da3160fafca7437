"""Heads on frozen pretrained embeddings (family ``backbone``, feature ``embed-<backbone>``).

For every backbone in ``hybench.features.embeddings.BACKBONES``: ``-logreg``, ``-linsvm``,
``-knn`` (k = 11 as the MedMNIST+ protocol), ``-xgb`` (the hybrid) from the classical builders, and
``-dense``, the seed 003 Keras head (Dense 64-128-256-128, early stopping on validation).
Named seed entries: ``seed003-vgg19-head`` and ``seed004-efficientnet-frozen``.
"""

from __future__ import annotations

from typing import Any

from hybench.features.embeddings import BACKBONES
from hybench.models.classical import KNN, LINSVM, LOGREG, XGB, Classifier, build_pipeline
from hybench.models.cnn import TRAINING_OPTIONS
from hybench.models.registry import register_model

HEAD_IMBALANCE = ("none", "class-weight", "smote")
KNN_IMBALANCE = ("none", "smote")
DENSE_UNITS = (64, 128, 256, 128)


def dense_head(input_shape: tuple[int, ...], n_classes: int):
    """Seed 003's head: ReLU Dense 64-128-256-128, then softmax over ``n_classes``."""
    import keras

    inputs = keras.Input(shape=input_shape)
    x = inputs
    for units in DENSE_UNITS:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))


def build_dense(*, imbalance: str, seed: int, n_classes: int, monitor: str = "val_loss",
                **options: Any):
    """A ``KerasClassifier`` with :func:`dense_head`; SMOTE resamples the training embeddings."""
    from hybench.models.keras_estimator import KerasClassifier
    from hybench.models.samplers import AdaptiveSMOTE

    training = {"epochs": 50, "batch_size": 64, "patience": 5, "monitor": monitor, **options}
    sampler = AdaptiveSMOTE(random_state=seed) if imbalance == "smote" else None
    return KerasClassifier(dense_head, n_classes=n_classes, seed=seed, imbalance=imbalance,
                           sampler=sampler, **training)


def _register_heads(backbone: str) -> None:
    feature = f"embed-{backbone}"

    def classical(head: str, classifier: Classifier, imbalance: tuple[str, ...], what: str):
        @register_model(f"{backbone}-{head}", family="backbone", features=feature,
                        imbalance=imbalance, deterministic=True,
                        description=f"{what} on frozen {backbone} embeddings")
        def factory(*, imbalance: str, seed: int, n_classes: int, **options: Any):
            own = {k: v for k, v in options.items() if k not in TRAINING_OPTIONS}
            return build_pipeline(classifier, imbalance=imbalance, seed=seed,
                                  n_classes=n_classes, **own)

    classical("logreg", LOGREG, HEAD_IMBALANCE, "logistic regression")
    classical("linsvm", LINSVM, HEAD_IMBALANCE, "calibrated linear SVM")
    classical("knn", KNN, KNN_IMBALANCE, "11-nearest neighbours")
    classical("xgb", XGB, HEAD_IMBALANCE, "XGBoost (hybrid)")
    register_model(f"{backbone}-dense", family="backbone", features=feature,
                   imbalance=HEAD_IMBALANCE, needs_validation=True, options=TRAINING_OPTIONS,
                   description=f"Keras dense head (seed 003) on frozen {backbone} embeddings",
                   )(build_dense)


for _backbone in BACKBONES:
    _register_heads(_backbone)


@register_model("seed003-vgg19-head", family="backbone", features="embed-vgg19",
                imbalance=HEAD_IMBALANCE, needs_validation=True, options=TRAINING_OPTIONS)
def seed003_vgg19_head(*, imbalance: str, seed: int, n_classes: int, **options: Any):
    """seed 003: frozen VGG19 + Dense 64-128-256-128 head (early stopping on val loss)."""
    return build_dense(imbalance=imbalance, seed=seed, n_classes=n_classes, **options)


@register_model("seed004-efficientnet-frozen", family="backbone", features="embed-efficientnetb0",
                imbalance=HEAD_IMBALANCE, needs_validation=True, options=TRAINING_OPTIONS)
def seed004_efficientnet_frozen(*, imbalance: str, seed: int, n_classes: int, **options: Any):
    """seed 004: frozen EfficientNetB0 + dense head, early stopping on validation PR-AUC."""
    return build_dense(imbalance=imbalance, seed=seed, n_classes=n_classes,
                       **{"monitor": "val_pr_auc", **options})
