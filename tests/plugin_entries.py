"""Entries used by the runner tests: one that sleeps, one that crashes (loaded via --plugins)."""

import time

from sklearn.dummy import DummyClassifier

from hybench.models import register_model


class SleepyClassifier(DummyClassifier):
    """Sleeps ``seconds`` in fit."""

    def __init__(self, strategy="prior", seconds=0.0):
        super().__init__(strategy=strategy)
        self.seconds = seconds

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.seconds)
        return super().fit(X, y, sample_weight)


class CrashingClassifier(DummyClassifier):
    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("deliberate failure in fit")


@register_model("test-sleepy", family="classical", features="pixels", imbalance=("none",))
def sleepy(*, imbalance, seed, n_classes, seconds=0.0, **options):
    """Prior-class dummy that sleeps in fit (tests timeouts and kills)."""
    return SleepyClassifier(seconds=seconds)


@register_model("test-crash", family="classical", features="pixels", imbalance=("none",))
def crash(*, imbalance, seed, n_classes, **options):
    """Raises in fit (tests error records)."""
    return CrashingClassifier()
