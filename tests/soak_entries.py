"""Near-empty entries for the soak test (loaded via --plugins): a prior-class dummy per name."""

from sklearn.dummy import DummyClassifier

from hybench.models import register_model

SOAK_ENTRIES = tuple(f"soak-{i}" for i in range(4))

for _name in SOAK_ENTRIES:
    register_model(_name, family="classical", features="pixels", imbalance=("none",),
                   description="prior-class dummy (fits in microseconds)")(
        lambda *, imbalance, seed, n_classes: DummyClassifier(strategy="prior")
    )
