"""Paired comparisons: every entry against its dataset's reference on the same test rows.

The reference is the entry with the best validation metric (the test set chooses nothing), the
best test metric when the user ranks on test, or the entry the user names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybench.errors import HybenchError
from hybench.results import statistics
from hybench.results.cell_stats import BOOTSTRAP_SEED, CONFIDENCE
from hybench.results.runs import ENTRY, RunSet


@dataclass(frozen=True)
class Reference:
    """The entry a dataset's comparisons are made against, and the rule that chose it."""

    model: str
    imbalance: str
    chosen_by: str  # "val" / "test": best metric on that split; "named": --reference

    @property
    def label(self) -> str:
        return f"{self.model} / {self.imbalance}"


def choose_references(
    board: pd.DataFrame, metric: str, select_on: str, named: str | None = None
) -> dict[str, Reference]:
    """Per dataset: the entry named ``MODEL[/IMBALANCE]``, else the best ``select_on`` metric."""
    references: dict[str, Reference] = {}
    for dataset, part in board.groupby("dataset", sort=False):
        if named:
            references[dataset] = _named_reference(part, named, dataset)
            continue
        column = f"{select_on}_{metric}" if select_on == "val" else metric
        best = part.sort_values([column, "model", "imbalance"], ascending=[False, True, True],
                                na_position="last", kind="stable").iloc[0]
        references[dataset] = Reference(best["model"], best["imbalance"], select_on)
    return references


def _named_reference(part: pd.DataFrame, named: str, dataset: str) -> Reference:
    model, _, imbalance = named.partition("/")
    matches = part[(part["model"] == model) & ((part["imbalance"] == imbalance) | (not imbalance))]
    if len(matches) == 1:
        row = matches.iloc[0]
        return Reference(row["model"], row["imbalance"], "named")
    if matches.empty:
        raise HybenchError(
            f"--reference {named}: no such entry on {dataset}",
            f"name one of {', '.join(sorted(set(part['model'] + '/' + part['imbalance'])))}",
        )
    raise HybenchError(
        f"--reference {named} matches {len(matches)} entries on {dataset}",
        f"name one: {', '.join(model + '/' + s for s in matches['imbalance'])}",
    )


def paired_table(
    runs: RunSet,
    board: pd.DataFrame,
    references: dict[str, Reference],
    metric: str,
    decision: str,
) -> pd.DataFrame:
    """Every entry against its dataset's reference on the same test rows (common seeds), in
    ``board`` order.

    ``delta`` = entry − reference, mean over common seeds. CI and p (normal approximation with the
    bootstrap standard error) from a paired bootstrap: both
    entries' seeds share the resampling weights of their test split, differences are averaged
    over seeds inside each resample (two-level bootstrap across different splits). McNemar uses
    the discordant counts averaged over seeds. Holm–Bonferroni adjusts both p-values over the
    dataset's comparisons.
    """
    groups = runs.entries
    rows = []
    for dataset, part in board.groupby("dataset", sort=False):
        reference = references[dataset]
        ref_key = (dataset, reference.model, reference.imbalance)
        by_seed = {int(r["seed"]): r for r in groups[ref_key]}
        found = []
        for key in part[list(ENTRY)].itertuples(index=False, name=None):
            pairs = [(r, by_seed[int(r["seed"])]) for r in groups[key] if int(r["seed"]) in by_seed]
            if key != ref_key and pairs:
                found.append(_paired_row(runs, key, reference, pairs, metric, decision))
        for column in ("p_value", "mcnemar_p"):
            adjusted = statistics.holm([row[column] for row in found])
            for row, value in zip(found, adjusted, strict=True):
                row[f"{column}_holm"] = float(value)
        rows += found
    columns = [*ENTRY, "reference", "chosen_by", "metric", "seeds", "delta", "ci_low", "ci_high",
               "p_value", "p_value_holm", "mcnemar_b", "mcnemar_c", "mcnemar_statistic",
               "mcnemar_p", "mcnemar_p_holm"]
    return pd.DataFrame(rows, columns=columns)


def _paired_row(runs, key, reference: Reference, pairs, metric, decision) -> dict:
    deltas, resampled, splits, labels, pred_entry, pred_reference = [], [], [], [], [], []
    for record, ref in pairs:
        if record["test_labels"] != ref["test_labels"]:
            raise HybenchError(
                f"{record['cell_id']} and {ref['cell_id']} have different test labels",
                "re-run both with the same split options",
            )
        a, b = runs.stats.get(record, decision), runs.stats.get(ref, decision)
        deltas.append(a.point[metric] - b.point[metric])
        resampled.append(a.resampled[metric] - b.resampled[metric])
        splits.append(a.split)
        labels.append(np.asarray(record["test_labels"]))
        pred_entry.append(a.decisions(record))
        pred_reference.append(b.decisions(ref))
    differences = statistics.combine_seeds(resampled, splits, BOOTSTRAP_SEED)
    summary = statistics.paired_summary(statistics.finite_mean(deltas), differences, CONFIDENCE)
    test = statistics.mcnemar_over_seeds(labels, pred_entry, pred_reference)
    return {
        **dict(zip(ENTRY, key, strict=True)),
        "reference": reference.label,
        "chosen_by": reference.chosen_by,
        "metric": metric,
        "seeds": ",".join(str(r["seed"]) for r, _ in pairs),
        "delta": summary["delta"], "ci_low": summary["low"], "ci_high": summary["high"],
        "p_value": summary["p_value"],
        "mcnemar_b": test["b"], "mcnemar_c": test["c"],
        "mcnemar_statistic": test["statistic"], "mcnemar_p": test["p_value"],
    }
