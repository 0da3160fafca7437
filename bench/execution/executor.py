"""The executor seam: run cells isolated, each in its own process with a hard timeout.

``LocalExecutor`` keeps up to ``jobs`` child processes (forkserver, heavy imports preloaded) and
kills a child that passes ``timeout`` seconds. Another engine (e.g. Ray) only has to implement
``run(tasks, on_result)`` with the same contract: exactly one ``on_result(task, outcome)`` call per
task, where ``outcome`` is ``("ok", record)``, ``("error", message)`` or ``("timeout", message)``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from hybench.execution.cell import CellTask, describe_failure, run_cell, thread_limits

Outcome = tuple[str, object]
WATCH_SECONDS = 0.5  # how often a cell checks that its driver is still alive
EXIT_ORPHANED = 70
PRELOAD = [
    "numpy",
    "sklearn.pipeline",
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.ensemble",
    "imblearn",
    "xgboost",
    "skimage.feature",
    "hybench.execution.executor",  # with its cell module: a child never mixes old and new code
    "hybench.models",
    "hybench.features",
]


class Executor(Protocol):
    def run(
        self, tasks: Sequence[CellTask], on_result: Callable[[CellTask, Outcome], None]
    ) -> None: ...


def _redirect_output(path: Path) -> None:
    """Send this process's stdout/stderr (fd 1 and 2, native libraries included) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)


def _exit_with_driver(driver: int) -> None:
    """Watch (in a daemon thread) that the driver and the forkserver that forked this cell are
    alive; when either is gone (the driver was SIGKILLed), end the cell at once instead of
    running on as an orphan until its timeout."""
    forkserver = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                os._exit(EXIT_ORPHANED)
            if os.getppid() != forkserver:
                os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="hybench-driver-watch", daemon=True).start()


def _child(task: CellTask, conn: Connection, driver: int) -> None:
    _exit_with_driver(driver)
    if task.log_path is not None:
        _redirect_output(task.log_path)
    try:
        with thread_limits(task):
            outcome: Outcome = ("ok", run_cell(task))
    except Exception as exc:  # any failure of the cell is data for its record
        outcome = ("error", describe_failure(exc))
    conn.send(outcome)
    conn.close()


def _death_message(exitcode: int | None) -> str:
    """Why a child ended without sending a result."""
    if exitcode is not None and exitcode < 0:
        return f"cell process killed by signal {-exitcode} (out of memory?); see the cell's log"
    return f"cell process exited with code {exitcode} before reporting; see the cell's log"


class LocalExecutor:
    """Isolated local processes; ``jobs`` at a time; ``timeout`` seconds each (None = no limit)."""

    def __init__(self, jobs: int = 1, timeout: float | None = None):
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.context = mp.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)

    def run(
        self, tasks: Sequence[CellTask], on_result: Callable[[CellTask, Outcome], None]
    ) -> None:
        pending = list(tasks)
        running: dict[Connection, tuple[CellTask, mp.process.BaseProcess, float]] = {}
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    task = pending.pop(0)
                    parent_end, child_end = self.context.Pipe(duplex=False)
                    process = self.context.Process(
                        target=_child, args=(task, child_end, os.getpid()), daemon=True
                    )
                    process.start()
                    child_end.close()
                    running[parent_end] = (task, process, time.monotonic())
                for conn in wait(list(running), timeout=self._poll_interval(running)):
                    task, process, _ = running.pop(conn)
                    on_result(task, self._receive(conn, process))
                self._kill_overdue(running, on_result)
        finally:
            for conn, (_, process, _) in running.items():
                process.kill()
                conn.close()

    def _poll_interval(self, running: dict) -> float:
        if self.timeout is None:
            return 1.0
        now = time.monotonic()
        deadlines = [started + self.timeout - now for _, _, started in running.values()]
        return max(0.05, min([1.0, *deadlines]))

    def _receive(self, conn: Connection, process: mp.process.BaseProcess) -> Outcome:
        try:
            outcome = conn.recv()
        except EOFError:
            process.join(5)
            outcome = ("error", _death_message(process.exitcode))
        finally:
            conn.close()
        process.join(5)
        return outcome

    def _kill_overdue(self, running: dict, on_result: Callable) -> None:
        if self.timeout is None:
            return
        now = time.monotonic()
        for conn in [c for c, (_, _, started) in running.items() if now - started > self.timeout]:
            task, process, _ = running.pop(conn)
            process.kill()
            process.join(5)
            conn.close()
            on_result(
                task,
                (
                    "timeout",
                    f"exceeded the {self.timeout:g} s cell timeout "
                    "(raise --timeout or use a smaller model/profile)",
                ),
            )
