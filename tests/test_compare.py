"""Regression gate on a real small run: itself passes, injected regressions fail."""

import numpy as np
import pytest

from hybench.errors import HybenchError
from hybench.report.compare import compare_runs, render_compare
from hybench.results.runs import load_runs
from tests.test_leaderboard import copy_run

VICTIM = "hog-logreg"


def test_a_run_compared_with_itself_passes(small_run_dir):
    runs = load_runs([small_run_dir])
    result = compare_runs(runs, runs)
    assert not result.failed and result.reasons == []
    ok = result.table[result.table["status"] == "ok → ok"]
    assert len(ok) == 10 and (ok["delta"] == 0).all() and (ok["throughput_ratio"] == 1).all()
    assert "PASSED" in render_compare(result)


def test_injected_metric_drop_fails(small_run_dir, tmp_path):
    def shuffle_scores(record):
        if record["model"] == VICTIM and record["status"] == "ok":
            rng = np.random.default_rng(record["seed"])
            record["test_scores"] = rng.permutation(record["test_scores"]).tolist()
        return record

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", shuffle_scores)])
    result = compare_runs(load_runs([small_run_dir]), new)
    assert result.failed
    assert result.reasons and all(VICTIM in r and "macro_f1" in r for r in result.reasons)
    regressed = result.table[result.table["verdict"] == "REGRESSED"]
    assert set(regressed["cell_id"].str.split("|").str[1]) == {VICTIM}
    assert (regressed["new"] < regressed["ci_low"]).all()
    assert "FAILED" in render_compare(result)
    # a huge tolerance forgives the drop
    assert not compare_runs(load_runs([small_run_dir]), new, metric_tolerance=1.0).failed


def test_slower_normalised_throughput_fails(small_run_dir, tmp_path):
    def slower(record):
        if record["model"] == VICTIM and record["status"] == "ok":
            record["inference"]["images_per_second"] *= 0.5
        return record

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", slower)])
    result = compare_runs(load_runs([small_run_dir]), new)
    assert result.failed and all("throughput" in r and VICTIM in r for r in result.reasons)


def test_a_uniformly_slower_machine_passes(small_run_dir, tmp_path):
    def slower(record):
        if record["status"] == "ok":
            record["inference"]["images_per_second"] /= 3
            record["fit_seconds"] *= 3
        return record

    def slower_reference(info):
        info["reference_workload"]["seconds"] *= 3

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", slower, slower_reference)])
    result = compare_runs(load_runs([small_run_dir]), new, min_fit_seconds=0)
    assert not result.failed, result.reasons
    assert result.table["throughput_ratio"].dropna().to_numpy() == pytest.approx(1)
    assert result.table["fit_speed_ratio"].dropna().to_numpy() == pytest.approx(1)


def test_slower_fit_fails_and_faster_reference_exposes_it(small_run_dir, tmp_path):
    def faster_reference(info):  # same seconds on a machine twice as fast = twice as slow code
        info["reference_workload"]["seconds"] /= 2

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", meta=faster_reference)])
    result = compare_runs(load_runs([small_run_dir]), new, min_fit_seconds=0)
    assert result.failed
    assert any("fit speed" in r for r in result.reasons)
    assert any("throughput" in r for r in result.reasons)


def test_ok_cell_that_now_errors_fails(small_run_dir, tmp_path):
    def crash(record):
        if record["model"] == VICTIM and record["status"] == "ok" and record["seed"] == 0:
            record.update(status="error", reason="ValueError: boom\ntraceback ...")
        return record

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", crash)])
    result = compare_runs(load_runs([small_run_dir]), new)
    assert result.failed and len(result.reasons) == 2  # none and class-weight, seed 0
    assert all("now error: ValueError: boom" in r for r in result.reasons)


def test_cells_in_one_run_only_are_listed_not_failed(small_run_dir, tmp_path):
    def drop(record):
        return None if record["model"] == VICTIM else record

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", drop)])
    result = compare_runs(load_runs([small_run_dir]), new)
    assert not result.failed
    assert any("only in the baseline (listed, not failed)" in n and VICTIM in n
               for n in result.notes)
    assert "only in the baseline" in render_compare(result)


def test_different_splits_and_bad_options_are_errors(small_run_dir, tmp_path):
    def resplit(record):
        record["split_fingerprint"] = "0000000000000000"
        return record

    def meta(info):
        fingerprints = info["datasets"]["synthetic-cxr"]["split_fingerprints"]
        fingerprints.update({seed: "0000000000000000" for seed in fingerprints})

    new = load_runs([copy_run(small_run_dir, tmp_path / "new", resplit, meta)])
    with pytest.raises(HybenchError, match="different splits for synthetic-cxr"):
        compare_runs(load_runs([small_run_dir]), new)
    runs = load_runs([small_run_dir])
    other_options = load_runs([copy_run(small_run_dir, tmp_path / "options",
                                        lambda r: {**r, "model_options": {"C": 10.0}})])
    with pytest.raises(HybenchError, match=r"baseline and new run differ in model_options"):
        compare_runs(runs, other_options)
    with pytest.raises(HybenchError, match="unknown compare metric"):
        compare_runs(runs, runs, metric="f2")
    with pytest.raises(HybenchError, match="tolerances"):
        compare_runs(runs, runs, speed_tolerance=1.5)
