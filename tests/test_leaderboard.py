"""Leaderboards from a real small run: loading, merging, aggregation, sections and formats."""

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybench.errors import HybenchError
from hybench.report.leaderboard import build_leaderboard, leaderboard_table, not_run_table
from hybench.report.render import FORMATS, render, write_run_leaderboards
from hybench.results import statistics as stats
from hybench.results.cell_stats import CELL_METRICS as HEADLINE
from hybench.results.records import read_records
from hybench.results.runs import load_runs

ENTRIES = {("pixels-logreg", "none"), ("pixels-logreg", "class-weight"), ("hog-logreg", "none"),
           ("hog-logreg", "class-weight"), ("hog-knn", "none")}


def copy_run(run_dir: Path, dest: Path, edit: Callable[[dict], dict | None] | None = None,
             meta: Callable[[dict], None] | None = None) -> Path:
    """Copy a run dir; ``edit`` rewrites (or drops: returns None) each record, ``meta`` run.json."""
    shutil.copytree(run_dir, dest)
    if edit:
        records = [edit(r) for r in read_records(dest / "records.jsonl")]
        (dest / "records.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records if r is not None))
    if meta:
        info = json.loads((dest / "run.json").read_text())
        meta(info)
        (dest / "run.json").write_text(json.dumps(info))
    return dest


@pytest.fixture(scope="module")
def runs(small_run_dir):
    return load_runs([small_run_dir])


def test_one_row_per_entry_with_seed_means_and_cis(runs):
    board = leaderboard_table(runs)
    assert {(m, i) for m, i in zip(board["model"], board["imbalance"], strict=True)} == ENTRIES
    assert (board["n_seeds"] == 2).all() and (board["dataset"] == "synthetic-cxr").all()
    for metric in HEADLINE:
        low, mean, high = (board[f"{metric}_ci_low"], board[metric], board[f"{metric}_ci_high"])
        assert ((low <= mean + 1e-9) & (mean <= high + 1e-9)).all(), metric
    assert (board["rarest_class"] == "focal-mass").all()  # the 3 % class
    assert (board["images_per_second"] > 0).all() and (board["n_parameters"] > 0).all()


def test_point_estimates_agree_with_the_stored_record_metrics(runs):
    board = leaderboard_table(runs).set_index(["model", "imbalance"])
    for record in runs.ok:
        cell = runs.stats.get(record)
        for metric in stats.METRICS:
            assert cell.point[metric] == pytest.approx(record["metrics"][metric]), metric
    for (model, imbalance), row in board.iterrows():
        stored = [r["metrics"]["macro_f1"] for r in runs.ok
                  if (r["model"], r["imbalance"]) == (model, imbalance)]
        assert row["macro_f1"] == pytest.approx(np.mean(stored))
        assert row["macro_f1_std"] == pytest.approx(np.std(stored, ddof=1))


def test_sorting_and_unknown_choices(runs):
    by_val = leaderboard_table(runs)["val_macro_f1"].to_numpy()
    assert (np.diff(by_val) <= 0).all()  # ranked on validation by default
    by_test = leaderboard_table(runs, select_on="test")["macro_f1"].to_numpy()
    assert (np.diff(by_test) <= 0).all()
    by_fit = leaderboard_table(runs, sort_by="fit_seconds")["fit_seconds"].to_numpy()
    assert (np.diff(by_fit) >= 0).all()  # smaller is better
    with pytest.raises(HybenchError, match="unknown sort metric 'speed'.*macro_f1.*roc_auc"):
        leaderboard_table(runs, sort_by="speed")
    with pytest.raises(HybenchError, match="unknown leaderboard format 'xlsx'.*md, csv"):
        render(runs, "xlsx")
    with pytest.raises(HybenchError, match="unknown --select-on split 'train'.*val, test"):
        render(runs, "md", select_on="train")


def test_not_run_section_lists_status_and_reason(runs):
    missing = not_run_table(runs)
    assert set(zip(missing["model"], missing["imbalance"], strict=True)) == {
        ("hog-knn", "class-weight")}
    assert (missing["status"] == "not_applicable").all() and missing["reason"].str.len().all()
    md = render(runs, "md")
    section = md[md.index("## Not run"):]
    assert "| hog-knn | class-weight | 0 | not applicable |" in section


def test_paired_comparison_against_the_validation_leader(runs):
    leaderboard = build_leaderboard(runs)
    board, paired = leaderboard.board, leaderboard.paired
    best_val = board.loc[board["val_macro_f1"].idxmax()]
    reference = leaderboard.references["synthetic-cxr"]
    assert (reference.model, reference.imbalance) == (best_val["model"], best_val["imbalance"])
    assert reference.chosen_by == "val"
    assert len(paired) == len(board) - 1 and (paired["reference"] == reference.label).all()
    assert paired["p_value"].between(0, 1).all() and paired["mcnemar_p"].between(0, 1).all()
    assert (paired["p_value_holm"] >= paired["p_value"] - 1e-12).all()
    assert ((paired["ci_low"] <= paired["delta"] + 1e-9)
            & (paired["delta"] <= paired["ci_high"] + 1e-9)).all()
    md = render(runs, "md")
    assert f"Against the reference {reference.label} (best validation Macro-F1, chosen without " \
           "the test set)" in md


def test_paired_comparison_against_the_test_leader_only_when_asked(runs):
    leaderboard = build_leaderboard(runs, select_on="test")
    board, paired = leaderboard.board, leaderboard.paired
    assert leaderboard.references["synthetic-cxr"].label == \
        f"{board['model'][0]} / {board['imbalance'][0]}"
    assert (paired["delta"] <= 1e-12).all()  # the test leader has the best test mean
    assert "chosen on the test set (optimistic)" in render(runs, "md", select_on="test")


def test_a_named_reference(runs):
    leaderboard = build_leaderboard(runs, reference="hog-knn")
    assert leaderboard.references["synthetic-cxr"].label == "hog-knn / none"
    assert "hog-knn" not in set(leaderboard.paired["model"])
    assert "named with --reference" in render(runs, "md", reference="hog-knn/none")
    with pytest.raises(HybenchError, match="--reference hog-logreg matches 2 entries.*"
                                           "hog-logreg/class-weight"):
        build_leaderboard(runs, reference="hog-logreg")
    with pytest.raises(HybenchError, match="--reference hog-svm: no such entry"):
        build_leaderboard(runs, reference="hog-svm")


def test_holm_adjusts_over_the_comparisons():
    adjusted = stats.holm([0.01, 0.04, 0.03, float("nan"), 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 with m = 4: 0.04, 0.09, max(0.09, 0.08), 0.2
    assert adjusted[[0, 2, 1, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert np.isnan(adjusted[3])


def test_per_class_table_averages_the_records(runs):
    table = build_leaderboard(runs).per_class
    assert len(table) == len(ENTRIES) * 3
    row = table[(table["model"] == "hog-logreg") & (table["imbalance"] == "none")
                & (table["class"] == "healthy")].iloc[0]
    stored = [r["per_class"][0]["recall"] for r in runs.ok
              if (r["model"], r["imbalance"]) == ("hog-logreg", "none")]
    assert row["recall"] == pytest.approx(np.mean(stored))


def test_every_format_writes_and_reads_back(runs, tmp_path):
    for fmt in FORMATS:
        (tmp_path / f"board.{fmt}").write_text(render(runs, fmt))
    csv = pd.read_csv(tmp_path / "board.csv")
    assert len(csv) == len(ENTRIES) and {"macro_f1", "macro_f1_ci_low", "fit_seconds"} <= set(csv)
    payload = json.loads((tmp_path / "board.json").read_text())
    assert len(payload["leaderboard"]) == len(ENTRIES) and payload["not_run"]
    assert {"paired", "per_class", "decision"} <= set(payload)
    md = (tmp_path / "board.md").read_text()
    assert "| # | Model | Family | Features | Imbalance |" in md and "Macro-F1" in md
    latex = (tmp_path / "board.latex").read_text()
    assert r"\begin{tabular}" in latex and "hog-logreg" in latex and r"$\pm$" in latex
    page = (tmp_path / "board.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<th>Macro-F1</th>" in page
    for model, _ in ENTRIES:
        assert all(model in text for text in (md, latex, page))
    by_auc = pd.read_csv(io.StringIO(render(runs, "csv", sort_by="roc_auc")))
    assert by_auc["val_roc_auc"].is_monotonic_decreasing
    assert payload["select_on"] == "val" and payload["references"]["synthetic-cxr"]["model"]


def test_write_run_leaderboards_is_atomic(small_run_dir, tmp_path):
    run_dir = copy_run(small_run_dir, tmp_path / "run")
    for name in ("leaderboard.md", "leaderboard.csv"):
        (run_dir / name).unlink()
    write_run_leaderboards(run_dir)
    assert "hog-knn" in (run_dir / "leaderboard.md").read_text()
    assert len(pd.read_csv(run_dir / "leaderboard.csv")) == len(ENTRIES)
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*"))


def test_merge_refuses_different_splits(small_run_dir, tmp_path):
    def resplit(record):
        if record["seed"] == 0:
            record["split_fingerprint"] = "0000000000000000"
        return record

    def meta(info):
        info["datasets"]["synthetic-cxr"]["split_fingerprints"]["0"] = "0000000000000000"

    other = copy_run(small_run_dir, tmp_path / "other", resplit, meta)
    with pytest.raises(HybenchError, match="different splits for synthetic-cxr seed 0"):
        load_runs([small_run_dir, other])


def test_merge_keeps_the_latest_record_of_each_cell(small_run_dir, tmp_path):
    def fail_later(record):
        if record["model"] == "hog-knn" and record["status"] == "ok":
            record.update(status="error", reason="crashed", finished_at="9999-01-01T00:00:00")
            return record
        return None

    patch = copy_run(small_run_dir, tmp_path / "patch", fail_later)
    merged = load_runs([small_run_dir, patch])
    assert len(merged.records) == len(load_runs([small_run_dir]).records)
    assert "hog-knn" not in set(leaderboard_table(merged)["model"])
    assert {"error", "not_applicable"} == set(not_run_table(merged)["status"])


def test_malformed_records_are_one_line_errors(small_run_dir, tmp_path):
    run_dir = copy_run(small_run_dir, tmp_path / "run")
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    (run_dir / "records.jsonl").write_text("\n".join([*lines[:2], lines[2][:40], *lines[3:]]))
    with pytest.raises(HybenchError, match=r"records.jsonl:3"):
        load_runs([run_dir])
    with pytest.raises(HybenchError, match="no run.json"):
        load_runs([tmp_path])


def test_random_weights_are_flagged(small_run_dir, tmp_path):
    def random_weights(record):
        if record["model"] == "hog-knn":
            record["weights"] = "none"
        return record

    run_dir = copy_run(small_run_dir, tmp_path / "run", random_weights)
    md = render(load_runs([run_dir]), "md")
    assert "| hog-knn (random weights) |" in md and "without pretrained weights" in md
