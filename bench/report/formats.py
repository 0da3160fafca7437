"""Writers: document blocks to Markdown, HTML and LaTeX, and tables to JSON-ready rows."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pandas as pd

from hybench.report.blocks import DocBlock, Heading, Notes
from hybench.storage import jsonable


def _md_text(text: str) -> str:
    """Text that a Markdown viewer shows literally: a ``<`` that could open an HTML tag or
    comment (``<img onerror=...>``) becomes ``&lt;``; ``p < 0.05`` stays readable."""
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", str(text))


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[DocBlock]) -> str:
    """Blocks as Markdown (pipe tables)."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md_text(block.text)}\n")
        elif isinstance(block, Notes):
            out.append("\n".join(f"{_md_text(line)}  " for line in block.lines).rstrip() + "\n")
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


def to_html_fragment(blocks: Sequence[DocBlock]) -> str:
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


def to_latex(blocks: Sequence[DocBlock]) -> str:
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


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+``, ``-``,
    ``@``) prefixed with ``'``; numbers are left alone (OWASP CSV injection advice)."""
    def neutral(value):
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value

    return frame.apply(
        lambda column: column if pd.api.types.is_numeric_dtype(column) else column.map(neutral)
    )


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (NaN/inf become None, numpy scalars plain)."""
    return jsonable(frame.astype(object).to_dict(orient="records"))
