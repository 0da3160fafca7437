"""Terminal output for the CLI (rich): progress bar, run summary, model and dataset listings."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hybench.errors import HybenchError

console = Console(width=None if sys.stdout.isatty() else 160)  # pipes get whole rows


def say(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        console.print(message, soft_wrap=True)


@contextmanager
def progress(total: int, *, quiet: bool = False) -> Iterator[Callable[[dict], None]]:
    """Yield a callback that advances the bar by one finished cell record."""
    if quiet or total == 0:
        yield lambda record: None
        return
    bar = Progress(
        TextColumn("[bold]cells"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
    )
    with bar:
        task = bar.add_task("", total=total)

        def advance(record: dict) -> None:
            status = record["status"]
            label = f"{record['model']} / {record['imbalance']} / seed {record['seed']}: {status}"
            if status == "ok":
                label += f" (macro-F1 {record['metrics']['macro_f1']:.3f})"
            bar.update(task, advance=1, description=label)

        yield advance


def finish_run(run_dir: Path, *, quiet: bool = False) -> None:
    """Write the run's leaderboard files and print the table."""
    from hybench.report.render import write_run_leaderboards

    markdown = write_run_leaderboards(run_dir)
    if not quiet:
        console.print(markdown, markup=False, highlight=False)
        console.print(
            f"\nrun directory: [bold]{run_dir}[/bold]  (re-render with "
            f"`hybench leaderboard {run_dir}`)"
        )


def print_models(pattern: str) -> int:
    from hybench.models import get_model, list_models

    names = list_models(pattern)
    if not names:
        raise HybenchError(f"no registered entry matches {pattern!r}", "run `hybench models`")
    table = Table(box=None)
    for column in ("name", "family", "features", "imbalance"):
        table.add_column(column, no_wrap=True)
    table.add_column("description", overflow="fold")
    for name in names:
        spec = get_model(name)
        table.add_row(name, spec.family, spec.features, ",".join(spec.imbalance), spec.description)
    console.print(table)
    return 0


def print_datasets() -> int:
    from hybench.data import list_datasets

    table = Table("name", "description", "looks for data in")
    for info in list_datasets():
        table.add_row(info.name, info.description, info.where)
    console.print(table)
    console.print(
        "A path also works: an .npz file, a folder with images.npy + labels.csv, "
        "or a class-folder tree (ROOT/[train|val|test/]CLASS/*.png)."
    )
    return 0
