"""The README's "Add a model" example, run exactly as written."""

import re
from pathlib import Path

from bench.cli import main
from bench.records import read_records

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_plugin_source() -> str:
    text = README.read_text()
    block = re.search(r"<!-- plugin-example -->\s*```python\n(.*?)```\s*<!-- /plugin-example -->",
                      text, re.S)
    assert block, "README lost its plugin example markers"
    return block.group(1)


def test_readme_plugin_example_registers_and_runs(tmp_path, capsys):
    plugin = tmp_path / "my_entries.py"
    plugin.write_text(readme_plugin_source())
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
