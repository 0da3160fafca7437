"""Render a leaderboard in any format, and write a run directory's own leaderboards."""

from __future__ import annotations

import json
from pathlib import Path

from hybench.report.document import leaderboard_document
from hybench.report.formats import (
    frame_records,
    html_page,
    spreadsheet_safe,
    to_html_fragment,
    to_latex,
    to_markdown,
)
from hybench.report.leaderboard import SORT_KEYS, Leaderboard, build_leaderboard, check_choice
from hybench.results.cell_stats import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES
from hybench.results.records import DECISIONS
from hybench.results.run_dir import RunDirectory
from hybench.results.runs import RunSet, load_runs
from hybench.storage import write_text_atomic

FORMATS = ("md", "csv", "html", "json", "latex")


def render(
    runs: RunSet,
    fmt: str,
    *,
    sort_by: str = "macro_f1",
    decision: str = "argmax",
    select_on: str = "val",
    reference: str | None = None,
) -> str:
    """The leaderboard as ``md``, ``csv`` (main table), ``html`` (page), ``json`` or ``latex``."""
    check_choice(fmt, FORMATS, "leaderboard format")
    check_choice(sort_by, SORT_KEYS, "sort metric")
    check_choice(decision, DECISIONS, "decision")
    leaderboard = build_leaderboard(runs, sort_by=sort_by, decision=decision,
                                    select_on=select_on, reference=reference)
    return render_leaderboard(leaderboard, fmt)


def render_leaderboard(leaderboard: Leaderboard, fmt: str) -> str:
    """An already built leaderboard in format ``fmt`` (one of :data:`FORMATS`)."""
    runs, sort_by, decision = leaderboard.runs, leaderboard.sort_by, leaderboard.decision
    if fmt == "csv":
        return spreadsheet_safe(leaderboard.board).to_csv(index=False)
    if fmt == "json":
        payload = {
            "runs": [str(r.path) for r in runs.runs],
            "sort_by": sort_by, "decision": decision, "select_on": leaderboard.select_on,
            "references": {d: {"model": r.model, "imbalance": r.imbalance,
                               "chosen_by": r.chosen_by}
                           for d, r in leaderboard.references.items()},
            "confidence": CONFIDENCE,
            "n_resamples": N_RESAMPLES, "bootstrap_seed": BOOTSTRAP_SEED,
            "leaderboard": frame_records(leaderboard.board),
            "per_class": frame_records(leaderboard.per_class),
            "paired": frame_records(leaderboard.paired),
            "not_run": frame_records(leaderboard.not_run),
        }
        return json.dumps(payload, indent=2) + "\n"
    blocks = leaderboard_document(leaderboard)
    if fmt == "md":
        return to_markdown(blocks)
    if fmt == "latex":
        return to_latex(blocks)
    return html_page("hybench leaderboard", to_html_fragment(blocks))


def write_run_leaderboards(run_dir: Path) -> str:
    """Write ``leaderboard.md`` and ``leaderboard.csv`` into a run directory (atomically);
    returns the Markdown."""
    directory = RunDirectory(run_dir)
    leaderboard = build_leaderboard(load_runs([directory.path]))
    markdown = render_leaderboard(leaderboard, "md")
    write_text_atomic(directory.leaderboard_path("md"), markdown)
    write_text_atomic(directory.leaderboard_path("csv"), render_leaderboard(leaderboard, "csv"))
    return markdown
