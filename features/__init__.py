"""Features: image -> vector transforms (pixels, HOG, frozen-backbone embeddings), computed in
batches and cached on disk per (dataset, feature, params)."""

from hybench.features.registry import (
    Feature,
    FeatureSpec,
    get_feature,
    list_features,
    register_feature,
)

__all__ = ["Feature", "FeatureSpec", "get_feature", "list_features", "register_feature"]
