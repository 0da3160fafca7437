"""Model entries: a registry of small decorated factories (classical, CNN, pretrained backbone).

Built-in entries (``classical``, ``cnn``, ``backbones``) and the ``hybench.models`` entry-point
group load on the first lookup; ``--plugins`` files load with :func:`load_plugins`.
"""

from hybench.models.registry import (
    FAMILIES,
    IMBALANCE_STRATEGIES,
    ModelSpec,
    NotApplicable,
    create_model,
    get_model,
    list_models,
    load_plugins,
    register_model,
    resolve_models,
)

__all__ = [
    "FAMILIES",
    "IMBALANCE_STRATEGIES",
    "ModelSpec",
    "NotApplicable",
    "create_model",
    "get_model",
    "list_models",
    "load_plugins",
    "register_model",
    "resolve_models",
]
