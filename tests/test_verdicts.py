"""Trustworthy verdicts: seed statistics on shared test rows, a reference and ranking chosen on
validation, Holm-adjusted comparisons, exact record metrics and refusal to mix experiments.

A small binary dataset in the MedMNIST file format (official split; validation and test with
different class mixes, as PneumoniaMNIST) is run for real once per module.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import binomtest, chi2
from sklearn import metrics as skm

from hybench.cli import main
from hybench.errors import HybenchError
from hybench.report.leaderboard import build_leaderboard
from hybench.report.render import render
from hybench.results import statistics as stats
from hybench.results.metrics import score_metrics
from hybench.results.records import read_records
from hybench.results.runs import RunSet, load_runs
from tests.test_leaderboard import copy_run

SIZES = {"train": (100, 280), "val": (30, 85), "test": (60, 100)}  # (normal, pneumonia) rows


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def write_binary_medmnist(path, seed: int = 0) -> None:
    """A learnable two-class ``pneumoniamnist.npz``: class 1 images are a little brighter."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, counts in SIZES.items():
        labels = np.repeat([0, 1], counts)
        images = rng.normal(110, 40, (len(labels), 28, 28)) + 14 * labels[:, None, None]
        arrays[f"{split}_images"] = np.clip(images, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = labels.astype(np.uint8)[:, None]
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("binary")
    write_binary_medmnist(base / "pneumoniamnist.npz")
    out = base / "run"
    assert run_cli("run", "--dataset", "pneumoniamnist", "--data-dir", base, "--models",
                   "pixels-logreg", "hog-logreg", "--imbalance", "none,class-weight",
                   "--seeds", "0,1,2", "--jobs", "2", "--out", out, "--quiet") == 0
    return out


# --- 1. several seeds on the same test rows ---------------------------------------------------


def test_k_identical_seeds_give_the_one_seed_ci(binary_run, tmp_path):
    """Logistic regression is deterministic and the split official: three identical records."""
    three = build_leaderboard(load_runs([binary_run])).board.set_index(["model", "imbalance"])
    one_dir = copy_run(binary_run, tmp_path / "one", edit=lambda r: r if r["seed"] == 0 else None)
    one = build_leaderboard(load_runs([one_dir])).board.set_index(["model", "imbalance"])
    assert (three["n_seeds"] == 3).all() and (one["n_seeds"] == 1).all()
    for column in ("accuracy_ci_low", "accuracy_ci_high", "roc_auc_ci_low", "macro_f1_ci_high"):
        assert three[column].to_numpy() == pytest.approx(one.loc[three.index, column].to_numpy(),
                                                         abs=1e-12), column


def test_k_identical_seeds_give_the_one_seed_paired_test(binary_run, tmp_path):
    three = build_leaderboard(load_runs([binary_run]), reference="hog-logreg/none").paired
    one_dir = copy_run(binary_run, tmp_path / "one", edit=lambda r: r if r["seed"] == 0 else None)
    one = build_leaderboard(load_runs([one_dir]), reference="hog-logreg/none").paired
    for column in ("delta", "ci_low", "ci_high", "p_value", "mcnemar_b", "mcnemar_p"):
        assert three[column].to_numpy() == pytest.approx(one[column].to_numpy(), abs=1e-12)


def make_record(seed: int, labels, scores, split: str, model: str = "m") -> dict:
    """A minimal ok record for the statistics (no run needed)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    return {
        "cell_id": f"d|{model}|none|seed{seed}", "dataset": "d", "model": model,
        "imbalance": "none", "seed": seed, "status": "ok", "family": "classical",
        "features": "pixels", "weights": None, "class_names": ["a", "b"],
        "split_fingerprint": split, "dataset_fingerprint": "data", "threshold": None,
        "test_labels": labels.tolist(), "test_scores": scores.tolist(),
        "val_labels": labels.tolist(), "val_scores": scores.tolist(),
        **score_metrics(labels, scores, ["a", "b"]),
    }


def entry_accuracy_ci(records: list[dict]) -> tuple[float, float]:
    board = build_leaderboard(RunSet([], records, {})).board
    return board["accuracy_ci_low"][0], board["accuracy_ci_high"][0]


def noisy_scores(rng, labels, base, noise: float) -> np.ndarray:
    logit = base + noise * rng.normal(size=len(labels))
    p = 1 / (1 + np.exp(-logit))
    return np.column_stack([1 - p, p])


def test_two_seeds_on_one_split_are_no_narrower_than_pooled_rows_and_match_the_truth():
    """Two seeds with genuinely different scores on the same rows: the CI of their mean is at
    least as wide as treating the 2n scored rows as independent, and its width matches the
    sampling spread of the seed-mean accuracy over fresh test sets of the same population."""
    rng = np.random.default_rng(1)
    n, draws = 300, 3000
    population = 200_000
    pop_labels = rng.integers(0, 2, population)
    pop_base = (2 * pop_labels - 1) * rng.normal(1.2, 1.0, population)  # shared row difficulty
    pop_right = [noisy_scores(rng, pop_labels, pop_base, 0.5).argmax(1) == pop_labels
                 for _ in range(2)]
    picks = rng.integers(0, population, (draws, n))
    truth_sd = np.std((pop_right[0][picks].mean(1) + pop_right[1][picks].mean(1)) / 2)

    rows = picks[0]
    labels = pop_labels[rows]
    seeds = [make_record(s, labels, noisy_scores(rng, labels, pop_base[rows], 0.5), "split")
             for s in (0, 1)]
    low, high = entry_accuracy_ci(seeds)
    pooled = make_record(0, np.tile(labels, 2),
                         np.concatenate([seeds[0]["test_scores"], seeds[1]["test_scores"]]), "p")
    pooled_low, pooled_high = entry_accuracy_ci([pooled])
    truth = 2 * 1.96 * truth_sd  # measured: ours 0.070, truth 0.070, pooled rows 0.057
    assert high - low > pooled_high - pooled_low
    assert high - low == pytest.approx(truth, rel=0.1)
    assert pooled_high - pooled_low < 0.9 * truth  # the check can tell the two apart


def test_seeds_on_different_splits_get_a_two_level_bootstrap():
    rng = np.random.default_rng(2)
    seeds = []
    for seed in range(3):
        labels = rng.integers(0, 2, 200)
        base = (2 * labels - 1) * (0.6 + 0.4 * seed)  # seeds differ in quality, not only rows
        seeds.append(make_record(seed, labels, noisy_scores(rng, labels, base, 1.0), f"s{seed}"))
    low, high = entry_accuracy_ci(seeds)
    shared = [{**r, "split_fingerprint": "same"} for r in seeds]  # as if the rows were shared
    shared_low, shared_high = entry_accuracy_ci(shared)
    assert low < high and high - low > shared_high - shared_low  # seed spread is counted
    board = build_leaderboard(RunSet([], seeds, {})).board
    assert board["n_splits"][0] == 3
    assert "two-level bootstrap" in render(RunSet([], seeds, {}), "md")


def test_mcnemar_known_answers():
    exact = stats.mcnemar_counts(10, 2)
    assert exact["p_value"] == pytest.approx(binomtest(2, 12).pvalue)  # 2 * 79 / 4096
    assert exact["p_value"] == pytest.approx(2 * 79 / 4096)
    large = stats.mcnemar_counts(30, 10)
    assert large["statistic"] == pytest.approx(19**2 / 40)
    assert large["p_value"] == pytest.approx(chi2.sf(19**2 / 40, 1))
    labels = np.array([1, 1, 1, 0, 0, 0])
    a = np.array([1, 1, 0, 0, 0, 1])  # right on rows 0, 1, 3, 4
    b = np.array([0, 1, 1, 1, 0, 1])  # right on rows 1, 2, 4
    assert stats.discordant_counts(labels, a, b) == (2, 1)
    copies = stats.mcnemar_over_seeds([labels] * 3, [a] * 3, [b] * 3)
    assert copies == stats.mcnemar(labels, a, b)
    mixed = stats.mcnemar_over_seeds([labels] * 2, [a, labels], [b, b])  # (2, 1) and (3, 0)
    assert (mixed["b"], mixed["c"]) == (2.5, 0.5)


def test_holm_counts_significance_in_the_notes(binary_run):
    leaderboard = build_leaderboard(load_runs([binary_run]))
    paired = leaderboard.paired
    assert (paired["p_value_holm"] >= paired["p_value"] - 1e-12).all()
    significant = int((paired["p_value_holm"] < 0.05).sum())
    md = render(load_runs([binary_run]), "md")
    assert f"Significant at 0.05 after adjustment: {significant} of {len(paired)} (bootstrap)" in md


# --- 2. validation scores, selection on validation, class mix, val-threshold -------------------


def test_records_store_validation_scores_and_metrics(binary_run):
    for record in read_records(binary_run / "records.jsonl"):
        assert len(record["val_labels"]) == len(record["val_scores"]) == sum(SIZES["val"])
        assert record["class_counts"] == {split: list(c) for split, c in SIZES.items()}
        assert 0 <= record["val_metrics"]["macro_f1"] <= 1
        assert record["model_options"] == {}


def test_ranking_is_on_validation_unless_test_is_asked_for(binary_run):
    runs = load_runs([binary_run])
    by_val = build_leaderboard(runs).board
    assert by_val["val_macro_f1"].is_monotonic_decreasing
    by_test = build_leaderboard(runs, select_on="test").board
    assert by_test["macro_f1"].is_monotonic_decreasing
    assert "Ranked by validation Macro-F1" in render(runs, "md")


def test_class_mix_difference_is_noted(binary_run):
    md = render(load_runs([binary_run]), "md")
    assert ("Class mix differs between validation and test (train 26.3% normal / 73.7% "
            "pneumonia; val 26.1% normal / 73.9% pneumonia; test 37.5% normal / 62.5% "
            "pneumonia)") in md


def test_val_threshold_decision_from_the_command_line(binary_run, capsys):
    assert run_cli("leaderboard", binary_run, "--format", "json", "--decision",
                   "val-threshold") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["decision"] == "val-threshold"
    records = read_records(binary_run / "records.jsonl")
    for row in payload["leaderboard"]:
        mine = [r for r in records if (r["model"], r["imbalance"]) == (row["model"],
                                                                       row["imbalance"])]
        assert row["decision"] == "val-threshold"
        assert row["accuracy"] == pytest.approx(
            np.mean([r["threshold"]["metrics"]["accuracy"] for r in mine]), abs=1e-12)
        assert row["threshold"] == pytest.approx(np.mean([r["threshold"]["value"] for r in mine]))
    assert run_cli("leaderboard", binary_run, "--decision", "best") == 2
    assert "unknown decision 'best'" in capsys.readouterr().err


# --- 4. records and leaderboards agree exactly ------------------------------------------------


def assert_metrics_match_stored_scores(record: dict) -> None:
    """Every metric of ``record`` recomputed with scikit-learn from its stored scores (1e-9)."""
    names = record["class_names"]

    def check(stored: dict, labels, scores, threshold=None, where="") -> None:
        labels, scores = np.asarray(labels), np.asarray(scores)
        pred = scores.argmax(1) if threshold is None else (scores[:, 1] >= threshold).astype(int)
        expected = {
            "accuracy": skm.accuracy_score(labels, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(labels, pred),
            "macro_f1": skm.f1_score(labels, pred, average="macro",
                                     labels=range(len(names)), zero_division=0),
            "mcc": skm.matthews_corrcoef(labels, pred),
        }
        if len(names) == 2:
            expected["roc_auc"] = skm.roc_auc_score(labels, scores[:, 1])
            expected["pr_auc"] = skm.average_precision_score(labels, scores[:, 1])
        else:
            expected["roc_auc"] = skm.roc_auc_score(labels, scores, multi_class="ovr")
        for metric, value in expected.items():
            assert math.isclose(stored[metric], value, abs_tol=1e-9), (where, metric)

    check(record["metrics"], record["test_labels"], record["test_scores"], where="test")
    check(record["val_metrics"], record["val_labels"], record["val_scores"], where="val")
    if record.get("threshold"):
        check(record["threshold"]["metrics"], record["test_labels"], record["test_scores"],
              record["threshold"]["value"], where="val-threshold")
        assert record["threshold"]["value"] == stats_threshold(record)


def stats_threshold(record: dict) -> float:
    from hybench.results.metrics import choose_threshold

    return choose_threshold(np.asarray(record["val_labels"]), np.asarray(record["val_scores"]))


def test_record_metrics_are_exactly_those_of_the_stored_scores(binary_run, small_run_dir):
    records = [r for run in (binary_run, small_run_dir)
               for r in read_records(run / "records.jsonl") if r["status"] == "ok"]
    assert len(records) == 12 + 10
    for record in records:
        assert_metrics_match_stored_scores(record)


# --- 5. nothing merges unless it is the same experiment ---------------------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    ("model_options", {"C": 1.0}, "differ in model_options"),
    ("feature_params", {"orientations": 12}, "differ in feature_params"),
])
def test_seeds_of_one_entry_must_share_the_experiment(binary_run, tmp_path, field, value, message):
    other = copy_run(binary_run, tmp_path / "other",
                     edit=lambda r: r if r["seed"] != 2 else {**r, field: value})
    with pytest.raises(HybenchError, match=message):
        load_runs([other])
    part = copy_run(binary_run, tmp_path / "part", edit=lambda r: r if r["seed"] != 2 else None)
    changed = copy_run(binary_run, tmp_path / "changed",
                       edit=lambda r: {**r, field: value} if r["seed"] == 2 else None)
    with pytest.raises(HybenchError, match=message):
        load_runs([part, changed])


def test_one_dataset_name_over_different_data_is_refused(binary_run, tmp_path):
    other = copy_run(binary_run, tmp_path / "other",
                     edit=lambda r: {**r, "dataset_fingerprint": "0" * 16, "seed": 7,
                                     "cell_id": r["cell_id"] + "x"} if r["seed"] == 0 else None)
    with pytest.raises(HybenchError, match="hold different data under the name pneumoniamnist"):
        load_runs([binary_run, other])


def test_resume_refuses_other_data_or_options(binary_run, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_binary_medmnist(data / "pneumoniamnist.npz", seed=1)  # same name, other pixels
    out = tmp_path / "run"
    import shutil

    shutil.copytree(binary_run, out)
    assert run_cli("run", "--resume", "--out", out, "--data-dir", data, "--quiet") == 2
    assert "dataset pneumoniamnist now holds different data" in capsys.readouterr().err
    assert run_cli("run", "--resume", "--out", out, "--image-size", "32", "--quiet") == 2
    err = capsys.readouterr().err
    assert "image_size was None, now 32" in err and err.count("\n") == 1
