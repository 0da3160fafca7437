"""Entries used by the runner tests: one that sleeps, one that crashes (loaded via --plugins)."""

import os
import time
from pathlib import Path

from sklearn.dummy import DummyClassifier

from hybench.models import register_model


class SleepyClassifier(DummyClassifier):
    """Sleeps ``seconds`` in fit. With ``HYBENCH_TEST_MARKERS`` set, first touches a file there
    named ``<HYBENCH_TEST_NODE>-<pid>`` so a test knows where the cell runs."""

    def __init__(self, strategy="prior", seconds=0.0):
        super().__init__(strategy=strategy)
        self.seconds = seconds

    def fit(self, X, y, sample_weight=None):
        markers = os.environ.get("HYBENCH_TEST_MARKERS")
        if markers:
            node = os.environ.get("HYBENCH_TEST_NODE", "local")
            Path(markers, f"{node}-{os.getpid()}").touch()
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
