"""The HTML report of a real small run: self-contained, every figure, renders in a browser."""

import base64
import re
import shutil
import subprocess

import pytest

from hybench.report.html_report import FIGURES, figure_id, write_report
from hybench.results.runs import load_runs
from tests.test_leaderboard import copy_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(small_run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report(load_runs([small_run_dir]), out)
    return out


def images_by_figure(page: str) -> dict[str, bytes]:
    found = re.findall(r"<figure id='([^']+)'><img alt='[^']+' src='data:image/png;base64,"
                       r"([A-Za-z0-9+/=]+)'>", page)
    return {fig: base64.b64decode(data) for fig, data in found}


def test_report_is_self_contained_with_every_figure(report):
    page = report.read_text()
    images = images_by_figure(page)
    expected = {figure_id(kind, "synthetic-cxr") for kind in FIGURES if kind != "learning-curves"}
    assert set(images) == expected
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000 for png in images.values())
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)  # nothing external
    assert "No learning curves" in page  # classical entries have no training history
    for text in ("hybench leaderboard", "Per class", "Against the reference", "Not run",
                 "hog-knn", "Machine", "Packages", "split_fingerprints", "reference workload"):
        assert text in page, text


def test_learning_curves_appear_for_records_with_history(small_run_dir, tmp_path):
    def with_history(record):
        if record["model"] == "hog-logreg" and record["status"] == "ok":
            record["history"] = {"loss": [0.9, 0.6, 0.5], "val_loss": [1.0, 0.8, 0.75]}
        return record

    run_dir = copy_run(small_run_dir, tmp_path / "run", with_history)
    out = tmp_path / "report.html"
    write_report(load_runs([run_dir]), out)
    assert figure_id("learning-curves", "synthetic-cxr") in images_by_figure(out.read_text())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
         f"--screenshot={shot}", report.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    from PIL import Image

    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2400)
    low, high = image.getextrema()
    assert high - low > 100  # text, tables and figures drawn, not a blank page
