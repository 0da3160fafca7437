"""Format-neutral document blocks (headings, tables, notes) and the formatting of their cells."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


DocBlock = Heading | Table | Notes


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
