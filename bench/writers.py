"""Format-neutral document blocks (headings, tables, notes), cell formatting, and writers to
Markdown, HTML, LaTeX and JSON-safe records."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Heading:
    """A section title; level 1–3."""

    level: int
    text: str


@dataclass(frozen=True)
class Table:
    """Rows of already formatted cell strings under ``headers``."""

    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Notes:
    """Explanatory lines printed under a table."""

    lines: list[str]


Block = Heading | Table | Notes


def fmt_number(value: float | None, digits: int = 3) -> str:
    """Fixed decimals; "–" for missing or non-finite values."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def fmt_seconds(value: float | None) -> str:
    """Three significant digits below 100 s, whole seconds above."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def fmt_count(value: float | None) -> str:
    """Compact count with a k/M/G suffix."""
    if value is None or not math.isfinite(value):
        return "–"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def fmt_metric(row: pd.Series | dict, metric: str) -> str:
    """``mean ± std [low, high]`` (± only with several seeds)."""
    value = row[metric]
    if not math.isfinite(value):
        return "–"
    text = fmt_number(value)
    if math.isfinite(row[f"{metric}_std"]):
        text += f" ± {row[f'{metric}_std']:.3f}"
    if math.isfinite(row[f"{metric}_ci_low"]):
        text += f" [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"
    return text


def first_line(text: str, limit: int = 160) -> str:
    """First non-empty line of ``text``, cut to ``limit`` characters."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Blocks as Markdown (pipe tables)."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}\n")
        elif isinstance(block, Notes):
            out.append("\n".join(f"{line}  " for line in block.lines).rstrip() + "\n")
        else:
            lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |",
                     "|" + "|".join("---" for _ in block.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _html_cell(text: str) -> str:
    """Escaped cell text; a trailing ``[low, high]`` interval goes on a second, smaller line."""
    value, sep, interval = str(text).rpartition(" [")
    if sep and value and interval.endswith("]"):
        return f"{html.escape(value)}<br><small>[{html.escape(interval)}</small>"
    return html.escape(str(text))


def to_html_fragment(blocks: Sequence[Block]) -> str:
    """Blocks as HTML elements (escaped), for pages and the report."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Notes):
            out.append("<p class='notes'>" + "<br>".join(html.escape(x) for x in block.lines)
                       + "</p>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>"
                           for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "\n".join(out)


PAGE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.82em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;
white-space:nowrap} th{background:#f2f2f2} small{color:#666} tr:nth-child(even){background:#fafafa}
.notes{color:#555;font-size:.85em;max-width:70em}
figure{display:inline-block;vertical-align:top;margin:.5em 1em 1em 0;max-width:100%}
img{max-width:100%} figcaption{color:#555;font-size:.85em;max-width:40em}
pre{font-size:.8em;background:#f7f7f7;padding:.5em}
"""


def html_page(title: str, body: str) -> str:
    """A standalone HTML page around an HTML fragment."""
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "Δ": r"$\Delta$", "–": "--", "−": "-", "≥": r"$\geq$", "…": r"\dots{}",
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(blocks: Sequence[Block]) -> str:
    """Blocks as LaTeX sections, paragraphs and tabulars (special characters escaped)."""
    commands = {1: "section*", 2: "subsection*", 3: "subsubsection*"}
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"\\{commands[block.level]}{{{_latex(block.text)}}}")
        elif isinstance(block, Notes):
            out.append("\\par " + r" \\ ".join(_latex(x) for x in block.lines) + "\n")
        else:
            lines = [f"\\begin{{tabular}}{{{'l' * len(block.headers)}}}", r"\hline",
                     " & ".join(_latex(h) for h in block.headers) + r" \\", r"\hline"]
            lines += [" & ".join(_latex(c) for c in row) + r" \\" for row in block.rows]
            lines += [r"\hline", r"\end{tabular}"]
            out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (NaN/inf become None, numpy scalars plain)."""
    return _json_safe(frame.astype(object).to_dict(orient="records"))
