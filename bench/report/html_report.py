"""One self-contained HTML report (tables + inline PNG figures) from stored records."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hybench.report import plots
from hybench.report.document import display_model, leaderboard_document
from hybench.report.formats import html_page, to_html_fragment
from hybench.report.leaderboard import build_leaderboard, check_choice
from hybench.results.records import DECISIONS, decision_part
from hybench.results.runs import ENTRY, RunSet
from hybench.storage import write_text_atomic

FIGURES = ("confusion", "roc", "pr", "f1-heatmap", "pareto", "learning-curves")
TOP_K = 5


def figure_id(kind: str, dataset: str) -> str:
    """The HTML id of a figure: ``fig-<kind>-<dataset slug>``."""
    return f"fig-{kind}-{re.sub(r'[^a-z0-9]+', '-', dataset.lower()).strip('-')}"


def _figure(kind: str, dataset: str, fig, caption: str) -> str:
    alt = f"{kind.replace('-', ' ')} figure for {dataset}"
    return (f"<figure id='{figure_id(kind, dataset)}'>"
            f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{plots.png_base64(fig)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _label(row: pd.Series) -> str:
    return f"{display_model(row)} / {row['imbalance']}"


def _dataset_figures(runs: RunSet, board: pd.DataFrame, per_class: pd.DataFrame,
                     dataset: str, decision: str, top_k: int) -> list[str]:
    groups = runs.entries
    keys = list(board[list(ENTRY)].itertuples(index=False, name=None))
    labels = [_label(row) for _, row in board.iterrows()]
    first = groups[keys[0]][0]
    classes = first["class_names"]
    out = ["<h2>Figures: " + html.escape(dataset) + "</h2>"]

    matrices = [
        (label, np.sum([decision_part(r, decision)["confusion_matrix"] for r in groups[key]],
                       axis=0))
        for key, label in zip(keys, labels, strict=True)
    ]
    out.append(_figure("confusion", dataset, plots.confusion_grid(matrices, classes),
                       f"Confusion matrices ({decision} decisions, summed over seeds); rows: "
                       "true class, columns: predicted; colour = share of the true class, "
                       "text = count."))

    top = [(label, groups[key][0]) for key, label in zip(keys[:top_k], labels, strict=False)]
    curves = [(f"{label} (seed {r['seed']})", np.asarray(r["test_labels"]),
               np.asarray(r["test_scores"])) for label, r in top]
    scope = "class 1" if len(classes) == 2 else "micro-averaged one-vs-rest"
    out.append(_figure("roc", dataset, plots.curve_figure(curves, "roc"),
                       f"ROC curves of the top {len(top)} entries ({scope})."))
    out.append(_figure("pr", dataset, plots.curve_figure(curves, "pr"),
                       f"Precision-recall curves of the top {len(top)} entries ({scope})."))

    f1 = np.array([[per_class[(per_class["model"] == key[1])
                               & (per_class["imbalance"] == key[2])
                               & (per_class["class"] == c)]["f1"].iloc[0] for c in classes]
                   for key in keys])
    out.append(_figure("f1-heatmap", dataset, plots.f1_heatmap(labels, classes, f1),
                       "F1 per class and entry (mean over seeds)."))

    out.append(_figure("pareto", dataset, plots.pareto_scatter(
        labels, board["images_per_second"].to_numpy(float), board["accuracy"].to_numpy(float)),
        "Accuracy against end-to-end inference throughput (mean over seeds); red: entries no "
        "other entry beats on both."))

    histories = [(f"{label} (seed {r['seed']})", r["history"])
                 for key, label in zip(keys, labels, strict=True)
                 for r in groups[key][:1] if r.get("history")]
    if histories:
        out.append(_figure("learning-curves", dataset, plots.learning_curves(histories),
                           "Learning curves of the Keras entries (first seed): solid = "
                           "training, dashed = validation."))
    else:
        out.append("<p class='notes'>No learning curves: no entry with a training history "
                   "(Keras entries record one).</p>")
    return out


def _key_values(mapping: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_plain(v))}</td></tr>"
        for k, v in mapping.items()
    )
    return f"<table>{rows}</table>"


def _plain(value) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "–" if value is None else str(value)


def _run_info(runs: RunSet) -> list[str]:
    out = ["<h2 id='run-info'>Runs: machine, packages, splits</h2>"]
    for run in runs.runs:
        meta = run.meta
        git = meta.get("git") or {}
        out.append(f"<h3>{html.escape(str(run.path))}</h3>")
        out.append(_key_values({
            "created": meta.get("created_at"),
            "updated": meta.get("updated_at"),
            "git commit": f"{git.get('commit', '–')}{' (dirty)' if git.get('dirty') else ''}",
            "reference workload": meta.get("reference_workload"),
        }))
        out.append("<h4>Machine</h4>" + _key_values(meta.get("machine") or {}))
        out.append("<h4>Packages</h4>" + _key_values(meta.get("packages") or {}))
        for name, info in (meta.get("datasets") or {}).items():
            out.append(f"<h4>Dataset {html.escape(name)}</h4>" + _key_values(info))
        if meta.get("config"):
            out.append("<h4>Config</h4><pre>"
                       + html.escape(json.dumps(meta["config"], indent=2, sort_keys=True))
                       + "</pre>")
    return out


def write_report(
    runs: RunSet,
    out: Path,
    *,
    sort_by: str = "macro_f1",
    decision: str = "argmax",
    select_on: str = "val",
    reference: str | None = None,
    top_k: int = TOP_K,
) -> None:
    """Write one self-contained HTML file: tables, figures (inline PNG) and run information."""
    check_choice(decision, DECISIONS, "decision")
    leaderboard = build_leaderboard(runs, sort_by=sort_by, decision=decision,
                                    select_on=select_on, reference=reference)
    board, per_class = leaderboard.board, leaderboard.per_class
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    body = [f"<p class='notes'>Generated {stamp} from stored records; nothing was retrained.</p>",
            to_html_fragment(leaderboard_document(leaderboard))]
    with plots.plain_text():
        for dataset in runs.datasets:
            part = board[board["dataset"] == dataset]
            if not part.empty:
                body += _dataset_figures(runs, part, per_class[per_class["dataset"] == dataset],
                                         dataset, decision, top_k)
    body += _run_info(runs)
    write_text_atomic(Path(out), html_page("hybench report", "\n".join(body)))
