"""Paired comparisons: every entry against its dataset's leader on the same test rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybench.errors import HybenchError
from hybench.results import statistics
from hybench.results.cell_stats import CONFIDENCE
from hybench.results.runs import ENTRY, RunSet


def paired_table(runs: RunSet, board: pd.DataFrame, metric: str, decision: str) -> pd.DataFrame:
    """Every entry against its dataset's leader (the first row of ``board``, ranked by ``metric``)
    on the same test rows (common seeds).

    ``delta`` = entry − leader, mean over common seeds; CI and p from a paired bootstrap (same
    resamples for both, metric averaged over seeds). McNemar pools the decisions of all seeds.
    """
    groups = runs.entries
    rows = []
    for _, part in board.groupby("dataset", sort=False):
        keys = list(part[list(ENTRY)].itertuples(index=False, name=None))
        leader = {int(r["seed"]): r for r in groups[keys[0]]}
        for key in keys[1:]:
            pairs = [(r, leader[int(r["seed"])]) for r in groups[key] if int(r["seed"]) in leader]
            if pairs:
                rows.append(_paired_row(runs, key, keys[0], pairs, metric, decision))
    columns = [*ENTRY, "leader", "metric", "seeds", "delta", "ci_low", "ci_high", "p_value",
               "mcnemar_b", "mcnemar_c", "mcnemar_statistic", "mcnemar_p"]
    return pd.DataFrame(rows, columns=columns)


def _paired_row(runs, key, leader_key, pairs, metric, decision) -> dict:
    deltas, resampled, labels, pred_entry, pred_leader = [], [], [], [], []
    for record, best in pairs:
        if record["test_labels"] != best["test_labels"]:
            raise HybenchError(
                f"{record['cell_id']} and {best['cell_id']} have different test labels",
                "re-run both with the same split options",
            )
        a, b = runs.stats.get(record, decision), runs.stats.get(best, decision)
        deltas.append(a.point[metric] - b.point[metric])
        resampled.append(a.resampled[metric] - b.resampled[metric])
        labels.extend(record["test_labels"])
        pred_entry.append(a.decisions(record))
        pred_leader.append(b.decisions(best))
    summary = statistics.paired_summary(statistics.finite_mean(deltas),
                                        np.mean(resampled, axis=0), CONFIDENCE)
    test = statistics.mcnemar(np.asarray(labels), np.concatenate(pred_entry),
                              np.concatenate(pred_leader))
    return {
        **dict(zip(ENTRY, key, strict=True)),
        "leader": f"{leader_key[1]} / {leader_key[2]}",
        "metric": metric,
        "seeds": ",".join(str(r["seed"]) for r, _ in pairs),
        "delta": summary["delta"], "ci_low": summary["low"], "ci_high": summary["high"],
        "p_value": summary["p_value"],
        "mcnemar_b": test["b"], "mcnemar_c": test["c"],
        "mcnemar_statistic": test["statistic"], "mcnemar_p": test["p_value"],
    }
