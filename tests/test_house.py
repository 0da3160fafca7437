"""The house: one ``hybench`` import namespace over bench/ models/ features/, a public API at the
top, nothing shadowed by a user's own files, and no two public names alike."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections import defaultdict
from importlib.metadata import distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = {"bench": "hybench", "models": "hybench.models", "features": "hybench.features"}


def test_every_package_folder_installs_under_hybench():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {v: k for k, v in SOURCE_FOLDERS.items()}
    expected = set()
    for folder, package in SOURCE_FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            expected.add(".".join((package, *parts)))
    assert set(setuptools["packages"]) == expected
    top_level = distribution("hybench").read_text("top_level.txt").split()
    assert top_level == ["hybench"]


def test_public_api_at_the_top():
    import hybench

    for name in ("register_model", "list_models", "get_model", "register_feature",
                 "register_dataset"):
        assert callable(getattr(hybench, name)), name
    assert "hog-logreg" in hybench.list_models("hog-*")
    assert hybench.get_model("hog-logreg").family == "classical"


def test_importing_hybench_and_its_cli_loads_no_heavy_library():
    code = ("import sys, hybench, hybench.cli\n"
            "heavy = [m for m in ('skimage', 'sklearn', 'tensorflow', 'keras', 'pandas')\n"
            "         if m in sys.modules]\n"
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_a_working_directory_with_its_own_models_features_and_bench_does_not_shadow(tmp_path):
    """A notebook's folder puts itself first on sys.path; hybench must not import from it."""
    for name in ("models.py", "bench.py", "features/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"raise ImportError('the user\\'s own {name} was imported')")
    code = ("import hybench, hybench.models, hybench.features\n"
            "from hybench import register_model, list_models\n"
            "assert list_models('hog-*')\n"
            "print(hybench.models.__file__)")
    imported = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(REPO / "models")
    cli = Path(sys.executable).with_name("hybench")
    run = subprocess.run([str(cli), "run", "--models", "pixels-logreg", "--quiet", "--out", "run"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    records = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    assert len(records) == 1 and all('"status": "ok"' in line for line in records)


def _public_definitions(path: Path) -> list[str]:
    """Public classes and UPPER_CASE constants defined at the top level of a module."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
    return [n for n in names if not n.startswith("_")]


def test_no_two_public_classes_or_constants_share_a_name():
    where = defaultdict(list)
    for folder in SOURCE_FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            for name in _public_definitions(path):
                where[name].append(str(path.relative_to(REPO)))
    shared = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not shared, f"defined in more than one module: {shared}"
