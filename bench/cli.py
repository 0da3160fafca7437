"""``hybench`` command line: run, leaderboard, report, compare, mlflow-log, models, datasets."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from hybench.errors import HybenchError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what shells and schedulers expect


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _seeds(value: str) -> list[int]:
    """``0,1,2`` or ``0-2``."""
    try:
        if "-" in value.strip()[1:] and "," not in value:
            lo, hi = (int(v) for v in value.split("-"))
            seeds = list(range(lo, hi + 1))
        else:
            seeds = [int(v) for v in _csv(value)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"seeds must look like 0,1,2 or 0-2, got {value!r}"
        ) from exc
    if not seeds:
        raise argparse.ArgumentTypeError(f"seed range {value!r} is empty: write it low-high")
    if min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be >= 0, got {value!r}")
    return seeds


class Terminated(Exception):
    """SIGTERM (a batch scheduler, ``docker stop``, ``kill``) arrived; handled like Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _fractions(value: str) -> list[float]:
    try:
        return [float(v) for v in _csv(value)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"split must look like 0.7,0.1,0.2, got {value!r}"
        ) from exc


def _dataset_specs(values: list[str] | None, data_dir: str | None) -> list[str] | None:
    """``--dataset`` values; ``a,b`` is two datasets unless a path of that name exists."""
    from hybench.data.loading import resolve_data_dir

    if values is None:
        return None
    root = resolve_data_dir(data_dir)
    specs = []
    for value in values:
        path = Path(value).expanduser()
        whole = path.exists() or (root is not None and (root / path).exists())
        specs += [value] if whole else _csv(value)
    return specs


def _add_ranking_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sort-by", default="macro_f1", help="metric to sort by")
    parser.add_argument("--decision", default="argmax",
                        help="argmax | val-threshold (binary: threshold chosen on validation)")
    parser.add_argument("--select-on", default="val",
                        help="val | test: the split whose metric ranks entries and picks the "
                             "reference (default val: the test set chooses nothing)")
    parser.add_argument("--reference", metavar="MODEL[/IMBALANCE]",
                        help="compare every entry with this one instead of the best")


def _ranking_kwargs(args: argparse.Namespace) -> dict:
    return {"sort_by": args.sort_by, "decision": args.decision, "select_on": args.select_on,
            "reference": args.reference}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_parser(sub)

    board = sub.add_parser("leaderboard", help="re-render tables from stored records")
    board.add_argument("run_dirs", nargs="+", type=Path)
    board.add_argument("--format", default="md", help="md | csv | html | json | latex")
    board.add_argument("-o", "--output", type=Path, help="write to FILE instead of stdout")
    _add_ranking_options(board)

    report = sub.add_parser("report", help="self-contained HTML report from stored records")
    report.add_argument("run_dirs", nargs="+", type=Path)
    report.add_argument("-o", "--output", type=Path, required=True)
    _add_ranking_options(report)

    compare = sub.add_parser("compare", help="regression gate: exit 1 when NEW regresses")
    compare.add_argument("baseline", type=Path)
    compare.add_argument("new", type=Path)
    compare.add_argument("--metric", default="macro_f1")
    compare.add_argument("--metric-tolerance", type=float, default=0.02)
    compare.add_argument("--speed-tolerance", type=float, default=0.30)

    models = sub.add_parser("models", help="list registered model entries")
    models.add_argument("pattern", nargs="?", default="*")
    models.add_argument("--plugins", nargs="+", help="Python files that register extra entries")

    sub.add_parser("datasets", help="list dataset loaders and where they look for data")

    mlflow = sub.add_parser("mlflow-log", help="log a stored run to MLflow (records stay the "
                                               'source of truth; pip install "hybench[mlflow]")')
    mlflow.add_argument("run_dir", type=Path)
    mlflow.add_argument("--tracking-uri",
                        help="default: MLflow's default store or MLFLOW_TRACKING_URI")
    mlflow.add_argument("--experiment", default="hybench", help="experiment name (default hybench)")
    return parser


def _add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="run a benchmark matrix and write a run directory")
    run.add_argument("--config", type=Path, help="TOML matrix file (flags override it)")
    run.add_argument(
        "--dataset",
        "--datasets",
        dest="datasets",
        nargs="+",
        help="registered name(s) or path(s) (.npz, images.npy folder, class folders); "
             "a,b also works, and a path that exists is taken whole even with a comma",
    )
    run.add_argument("--data-dir", help="where dataset files live (env HYBENCH_DATA_DIR)")
    run.add_argument("--models", nargs="+", help="entry names or globs, e.g. 'hog-*' 'pixels-*'")
    run.add_argument("--imbalance", type=_csv, help="strategies, e.g. none,class-weight,smote")
    run.add_argument("--seeds", type=_seeds, help="e.g. 0,1,2 or 0-2")
    run.add_argument("--profile", help="quick | standard | full (default quick)")
    run.add_argument("--image-size", type=int, help="resize every image to SIZE x SIZE")
    run.add_argument("--channels", type=int, help="1 (grayscale) or 3 (RGB)")
    run.add_argument(
        "--split", type=_fractions, help="train,val,test fractions (default 0.7,0.1,0.2)"
    )
    run.add_argument("--val-fraction", type=float,
                     help="share of train held out for validation when an official split has "
                          "no val part (default 0.1)")
    run.add_argument(
        "--resplit",
        action="store_true",
        default=None,
        help="ignore the official split and make a stratified one",
    )
    run.add_argument("--timeout", type=float, help="hard limit per cell in seconds (default 1800)")
    run.add_argument("--jobs", type=int, help="cells run in parallel (default 1)")
    run.add_argument("--executor", help="local (default) | ray: cells as Ray tasks "
                                        '(needs pip install "hybench[ray]")')
    run.add_argument("--ray-address", help="auto or HOST:PORT of a running Ray cluster "
                                           "(default: a local Ray instance)")
    run.add_argument("-o", "--out", help="run directory (default runs/<dataset>-<profile>-<time>)")
    run.add_argument(
        "--resume", action="store_true", help="continue --out, skipping finished cells"
    )
    run.add_argument("--plugins", nargs="+", help="Python files that register extra entries")
    run.add_argument("--cache-dir", help="feature/dataset cache root (env HYBENCH_CACHE_DIR)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or table")
    run.add_argument("--mlflow", nargs="?", const="", metavar="TRACKING_URI",
                     help="when the run has finished, log it to MLflow (no value: MLflow's "
                          'default store or MLFLOW_TRACKING_URI; pip install "hybench[mlflow]")')


def cmd_run(args: argparse.Namespace) -> int:
    from hybench import console
    from hybench.execution.config import build_config, load_config_file
    from hybench.execution.driver import execute, open_executor
    from hybench.execution.planning import plan_run
    from hybench.results.run_dir import RunDirectory

    tracking = None
    if args.mlflow is not None:  # before anything is written: mlflow importable, URI usable
        from hybench.report.mlflow_log import check_tracking

        tracking = check_tracking(args.mlflow or None)
    layers = [load_config_file(args.config)] if args.config else []
    flags = {
        "datasets": _dataset_specs(args.datasets, args.data_dir),
        "data_dir": args.data_dir,
        "models": args.models,
        "imbalance": args.imbalance,
        "seeds": args.seeds,
        "profile": args.profile,
        "image_size": args.image_size,
        "channels": args.channels,
        "split": args.split,
        "resplit": args.resplit,
        "val_fraction": args.val_fraction,
        "timeout": args.timeout,
        "jobs": args.jobs,
        "executor": args.executor,
        "ray_address": args.ray_address,
        "out": args.out,
        "plugins": args.plugins,
        "cache_dir": args.cache_dir,
    }
    if args.resume and args.out and not args.config:
        layers.insert(0, RunDirectory(args.out).stored_config())
    config = build_config(*layers, flags)
    plan = plan_run(config, resume=args.resume)
    for note in plan.notes:
        console.say(f"note: {note}", quiet=args.quiet)
    if not plan.pending:
        console.say(
            f"nothing to run: all {len(plan.cells)} cells of {plan.run_dir.path} are finished",
            quiet=args.quiet,
        )
    with (open_executor(config) as executor,
          console.progress(len(plan.pending), quiet=args.quiet) as advance):
        run_dir = execute(plan, executor=executor, on_progress=advance)
    console.finish_run(run_dir, quiet=args.quiet)
    if tracking is not None:  # logged here, by the driver only, once every cell has finished
        from hybench.report.mlflow_log import log_run

        logged = log_run(run_dir, tracking)
        if not args.quiet:
            print(logged.summary())
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from hybench.report.render import render
    from hybench.results.runs import load_runs
    from hybench.storage import write_text_atomic

    text = render(load_runs(args.run_dirs), args.format, **_ranking_kwargs(args))
    if args.output:
        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hybench.report.html_report import write_report
    from hybench.results.runs import load_runs

    write_report(load_runs(args.run_dirs), args.output, **_ranking_kwargs(args))
    print(f"wrote {args.output}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from hybench.report.compare import compare_runs, render_compare
    from hybench.results.runs import load_runs

    result = compare_runs(
        load_runs([args.baseline]),
        load_runs([args.new]),
        metric=args.metric,
        metric_tolerance=args.metric_tolerance,
        speed_tolerance=args.speed_tolerance,
    )
    print(render_compare(result))
    return 1 if result.failed else 0


def cmd_mlflow_log(args: argparse.Namespace) -> int:
    from hybench.report.mlflow_log import check_tracking, log_run

    print(log_run(args.run_dir, check_tracking(args.tracking_uri), args.experiment).summary())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from hybench import console
    from hybench.models import load_plugins

    load_plugins(args.plugins or [])
    return console.print_models(args.pattern)


def cmd_datasets(args: argparse.Namespace) -> int:
    from hybench import console

    return console.print_datasets()


COMMANDS = {
    "run": cmd_run,
    "leaderboard": cmd_leaderboard,
    "report": cmd_report,
    "compare": cmd_compare,
    "mlflow-log": cmd_mlflow_log,
    "models": cmd_models,
    "datasets": cmd_datasets,
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else None
    try:
        return COMMANDS[args.command](args)
    except HybenchError as exc:
        print(f"hybench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `hybench leaderboard RUN | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "hybench: interrupted; finished cells are kept — rerun with --resume to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Terminated:
        print(
            "hybench: terminated (SIGTERM); finished cells are kept — rerun with --resume to "
            "continue",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
