"""The README's "Add a model" example, run exactly as written."""

import re
from pathlib import Path

import pytest

from hybench.cli import main
from hybench.results.records import read_records

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(marker: str) -> str:
    text = README.read_text()
    block = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```\s*<!-- /{marker} -->", text,
                      re.S)
    assert block, f"README lost its {marker} markers"
    return block.group(1)


def readme_plugin_source() -> str:
    return readme_block("plugin-example")


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    """One folder holding the README's my_entries.py (one file, so one origin per entry name)."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "my_entries.py").write_text(readme_plugin_source())
    return folder


def test_readme_plugin_example_registers_and_runs(plugin_dir, tmp_path, capsys):
    plugin = plugin_dir / "my_entries.py"
    assert len(readme_plugin_source().strip().splitlines()) <= 12
    assert main(["models", "hog-*", "--plugins", str(plugin)]) == 0
    assert "hog-extratrees" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["run", "--plugins", str(plugin), "--models", "hog-extratrees", "--imbalance",
                 "none,class-weight,smote", "--seeds", "0", "--out", str(out), "--quiet"]) == 0
    records = {r["imbalance"]: r for r in read_records(out / "records.jsonl")}
    assert records["none"]["status"] == records["class-weight"]["status"] == "ok"
    assert records["smote"]["status"] == "not_applicable"
    assert records["none"]["metrics"]["balanced_accuracy"] > 0.34  # better than chance (3 classes)


def test_readme_conformance_example_checks_the_plugin_entry(plugin_dir, monkeypatch):
    monkeypatch.chdir(plugin_dir)
    exec(compile(readme_block("conformance-example"), "README conformance example", "exec"), {})
