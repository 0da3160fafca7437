"""Image -> vector transforms and their on-disk cache."""

from features.base import Feature, get_feature, list_features, register_feature

__all__ = ["Feature", "get_feature", "list_features", "register_feature"]
