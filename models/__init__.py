"""Model entries: a registry of small decorated factories (classical, CNN, pretrained backbone)."""

from models.registry import (
    IMBALANCE_STRATEGIES,
    ModelSpec,
    NotApplicable,
    create_model,
    get_model,
    list_models,
    load_builtin_models,
    load_plugins,
    register_model,
)

__all__ = [
    "IMBALANCE_STRATEGIES",
    "ModelSpec",
    "NotApplicable",
    "create_model",
    "get_model",
    "list_models",
    "load_builtin_models",
    "load_plugins",
    "register_model",
]
