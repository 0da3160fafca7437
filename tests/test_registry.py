"""The one registry type behind datasets, features and models."""

from __future__ import annotations

import sys

import pytest

from hybench.data.catalog import DATASETS
from hybench.errors import HybenchError
from hybench.features.registry import FEATURES
from hybench.models.registry import MODELS
from hybench.registry import Registry


def test_lookup_by_name_and_glob_with_close_matches_for_typos():
    registry: Registry[int] = Registry("thing", list_command="hybench things")
    for name in ("hog-logreg", "hog-rf", "pixels-logreg"):
        registry.register(name, len(name), origin=f"here.{name}")
    assert registry.get("hog-rf") == 6
    assert registry.names("hog-*") == ["hog-logreg", "hog-rf"]
    assert registry.resolve(["pixels-*", "hog-*"]) == ["pixels-logreg", "hog-logreg", "hog-rf"]
    with pytest.raises(HybenchError, match=r"unknown thing 'hog-logreeg'.*did you mean hog-logreg"):
        registry.get("hog-logreeg")
    with pytest.raises(HybenchError, match=r"'svm-\*' matches no registered entry.*hybench things"):
        registry.resolve(["svm-*"])


def test_a_second_registration_of_a_name_is_an_error_unless_it_is_the_same_source():
    registry: Registry[str] = Registry("thing")
    registry.register("a", "first", origin="plugin_a.factory")
    registry.register("a", "reloaded", origin="plugin_a.factory")  # the same module re-imported
    assert registry.get("a") == "reloaded"
    with pytest.raises(HybenchError, match="'a' is already registered by plugin_a.factory"):
        registry.register("a", "other", origin="plugin_b.factory")
    assert registry.get("a") == "reloaded"


@pytest.mark.parametrize("name", ["../../tmp/x", "a/b", "", " x", "-x", "x|y"])
def test_names_follow_the_documented_pattern(name):
    registry: Registry[int] = Registry("thing")
    with pytest.raises(HybenchError, match="invalid thing name"):
        registry.register(name, 1, origin="here")


LAZY: Registry[str] = Registry("thing", builtins=["fake_hybench_builtins"])


def test_builtins_load_on_first_use_and_take_their_names_first(tmp_path, monkeypatch):
    (tmp_path / "fake_hybench_builtins.py").write_text(
        "from tests.test_registry import LAZY\n"
        "LAZY.register('builtin', 'b', origin='fake_hybench_builtins.entry')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "fake_hybench_builtins" not in sys.modules
    with pytest.raises(HybenchError, match="already registered by fake_hybench_builtins.entry"):
        LAZY.register("builtin", "plugin", origin="plugin.entry")  # the built-in went first
    assert LAZY.get("builtin") == "b"


def test_the_three_registries_share_the_type_and_refuse_duplicates():
    from hybench import register_dataset, register_feature, register_model

    assert all(isinstance(r, Registry) for r in (DATASETS, FEATURES, MODELS))
    with pytest.raises(HybenchError, match="model 'hog-logreg' is already registered"):
        register_model("hog-logreg", family="classical", features="hog")(lambda **_: None)
    with pytest.raises(HybenchError, match="feature 'hog' is already registered"):
        register_feature("hog")(lambda images: images)
    with pytest.raises(HybenchError, match="dataset 'synthetic-cxr' is already registered"):
        register_dataset("synthetic-cxr", description="", where="")(lambda paths: None)


def test_feature_capabilities_are_spec_fields():
    hog, embed = FEATURES.get("hog"), FEATURES.get("embed-mobilenet-0.25")
    assert hog.parallel and hog.cacheable and hog.count_params is None
    assert not embed.parallel and embed.resolve_params is not None and embed.count_params
    assert not FEATURES.get("image").cacheable


def test_plugin_files_reload_but_two_files_cannot_claim_one_name(tmp_path):
    from hybench.models import get_model, load_plugins

    source = ("from sklearn.dummy import DummyClassifier\nfrom hybench import register_model\n\n"
              "@register_model('test-claimed', family='classical', features='pixels')\n"
              "def claimed(*, imbalance, seed, n_classes, **options):\n"
              "    return DummyClassifier()\n")
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "entries.py").write_text(source)
    load_plugins([tmp_path / "a" / "entries.py"])
    load_plugins([tmp_path / "a" / "entries.py"])  # the same file again (a notebook re-run)
    assert get_model("test-claimed").family == "classical"
    with pytest.raises(HybenchError, match=r"'test-claimed' is already registered by .*a/entries"):
        load_plugins([tmp_path / "b" / "entries.py"])
