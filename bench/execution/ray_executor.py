"""Run cells as Ray tasks, locally or on a cluster, with the local executor's guarantees.

The driver stays the only writer of the run directory: a cell's record comes back as its task's
result. No shared filesystem is assumed: dataset arrays, split plans, cached features and the
files a feature reads (backbone weights) are put in Ray's object store once and passed by
reference; plugin files travel as a ``py_modules`` runtime environment. A task carries no path of
the driver's machine. Ray has no task timeout, so a zero-CPU clock actor notes when each cell
starts and the driver force-cancels a cell that runs past ``timeout``. A worker or node that dies
is retried ``retries`` times by Ray, then the cell is recorded as ``error``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybench.data.splits import SplitPlan
from hybench.errors import HybenchError, first_line
from hybench.execution.cell import (
    CellInputs,
    CellTask,
    describe_failure,
    run_cell,
    thread_limits,
)
from hybench.execution.executor import Outcome
from hybench.storage import write_atomic

INSTALL_HINT = 'pip install "hybench[ray]"'
POLL_SECONDS = 0.5
DEFAULT_RESOURCES = {  # per family; ``ray_resources`` tables in the config override them
    "classical": {"num_cpus": 1},
    "cnn": {"num_cpus": 2, "memory_gb": 2},
    "backbone": {"num_cpus": 2, "memory_gb": 2},
}
GIB = 1 << 30
HEAD_RESOURCE = "node:__internal_head__"  # Ray's marker resource of the head node


def require_ray() -> None:
    """A one-line error when the ``ray`` extra is missing (checked before anything is written)."""
    try:
        importlib.import_module("ray")
    except ImportError:
        raise HybenchError("--executor ray needs Ray, which is not installed",
                           f"install it with {INSTALL_HINT}, or use --executor local") from None


def cell_resources(family: str, model: str, overrides: dict[str, dict]) -> dict[str, float]:
    """``num_cpus`` and ``memory_gb`` of one cell: family defaults, then the config's family
    table, then its model table."""
    merged = dict(DEFAULT_RESOURCES.get(family, {"num_cpus": 1}))
    merged |= overrides.get(family, {})
    merged |= overrides.get(model, {})
    return merged


class RayExecutor:
    """Cells as Ray tasks. ``address``: None starts a local instance sized to this machine;
    ``"auto"`` or ``HOST:PORT`` joins a running cluster."""

    def __init__(self, address: str | None = None, timeout: float | None = None, retries: int = 1,
                 resources: dict[str, dict] | None = None):
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.resources = resources or {}
        self.plugin_modules: tuple[str, ...] = ()

    @contextlib.contextmanager
    def session(self, plugins: Sequence[str]) -> Iterator[RayExecutor]:
        """Connected to Ray (plugins shipped with the job) for the ``with`` block."""
        ray = _import_ray()
        package, self.plugin_modules = _package_plugins(plugins)
        runtime_env = {"py_modules": [str(package)]} if package else None
        try:
            _connect(ray, self.address, runtime_env)
            yield self
        finally:
            if ray.is_initialized():
                ray.shutdown()
            if package is not None:
                shutil.rmtree(package.parent, ignore_errors=True)

    def run(
        self, tasks: Sequence[CellTask], on_result: Callable[[CellTask, Outcome], None]
    ) -> None:
        import ray

        if not tasks:
            return
        running: dict[Any, CellTask] = {}
        with _deferred_signals() as check_signals:
            try:
                self._submit_and_collect(ray, tasks, on_result, running, check_signals)
            finally:
                for ref in running:
                    ray.cancel(ref, force=True)

    def _submit_and_collect(self, ray, tasks: Sequence[CellTask], on_result: Callable,
                            running: dict, check_signals: Callable[[], None]) -> None:
        store = _ObjectBank(ray)
        clock = _clock_actor(ray)
        limits = _node_limits(ray)
        remote = ray.remote(_remote_cell)
        for task in tasks:
            check_signals()
            cpus, memory = self._resources_for(task, limits)
            ref = remote.options(
                num_cpus=cpus, memory=memory, max_retries=self.retries,
                retry_exceptions=False, name=task.cell_id,
            ).remote(
                remote_task(task, cpus), *store.inputs(task), store.files(task),
                self.plugin_modules, clock,
            )
            running[ref] = task
        while running:
            check_signals()
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            if ready:
                ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
            for ref in ready:
                task = running.pop(ref)
                on_result(task, self._receive(ray, ref, task))
            self._cancel_overdue(ray, clock, running, on_result)

    def _resources_for(self, task: CellTask, limits: tuple[float, float]) -> tuple[int, int | None]:
        from hybench.models import get_model

        wanted = cell_resources(get_model(task.model).family, task.model, self.resources)
        cpus = max(1, min(int(round(wanted.get("num_cpus", 1))), int(limits[0])))
        memory = wanted.get("memory_gb")
        return cpus, None if memory is None else int(min(memory * GIB, limits[1]))

    def _receive(self, ray, ref, task: CellTask) -> Outcome:
        """The cell's outcome; a task that died ``retries + 1`` times is an ``error``."""
        try:
            status, payload, log = ray.get(ref)
        except ray.exceptions.RayError as exc:
            first = first_line(exc)
            return "error", (f"Ray task failed after {self.retries + 1} attempt(s): "
                             f"{type(exc).__name__}: {first}")
        if task.log_path is not None:
            task.log_path.parent.mkdir(parents=True, exist_ok=True)
            task.log_path.write_text(log)
        return status, payload

    def _cancel_overdue(self, ray, clock, running: dict, on_result: Callable) -> None:
        if self.timeout is None or not running:
            return
        try:
            elapsed = ray.get(clock.elapsed.remote(), timeout=30)
        except (ray.exceptions.RayError, TimeoutError):  # checked again on the next round
            return
        for ref in [r for r, t in running.items() if elapsed.get(t.cell_id, 0) > self.timeout]:
            task = running.pop(ref)
            ray.cancel(ref, force=True)
            on_result(task, ("timeout", f"exceeded the {self.timeout:g} s cell timeout "
                                        "(raise --timeout or use a smaller model/profile)"))


@contextlib.contextmanager
def _deferred_signals() -> Iterator[Callable[[], None]]:
    """Note SIGINT/SIGTERM in a flag and yield a check that, called from the driver loop,
    restores the previous handlers and acts as they would (KeyboardInterrupt, the CLI's
    SIGTERM exception): an exception raised inside a blocking Ray call can be swallowed."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def check() -> None:
        if caught:
            signum = caught[0]
            caught.clear()
            restore()
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            signal.raise_signal(signum)  # SIG_DFL ends the process; SIG_IGN ignores it

    try:
        yield check
    finally:
        restore()


def remote_task(task: CellTask, cpus: int) -> CellTask:
    """What a Ray task receives: the cell without any path of the driver's machine."""
    return dataclasses.replace(task, images_path=None, labels_path=None, split_path=None,
                               features_path=None, log_path=None, plugins=(), threads=cpus)


def _import_ray():
    require_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls from a benchmark
    import ray

    return ray


def _connect(ray, address: str | None, runtime_env: dict | None) -> None:
    import logging

    kwargs = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": logging.ERROR,
              "include_dashboard": False}
    if address is None:
        kwargs |= {"address": "local", "num_cpus": os.cpu_count() or 1}
    else:
        kwargs["address"] = address
    try:
        if address not in (None, "auto"):
            _check_reachable(address)
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = first_line(exc) or type(exc).__name__
        where = address or "a local instance"
        raise HybenchError(f"cannot start Ray ({where}): {first}",
                           "start the cluster with `ray start --head` and pass its address, "
                           "or drop --ray-address for a local instance") from None


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (``ray.init`` would retry for minutes)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except (OSError, ValueError) as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc})") from None


def _package_plugins(plugins: Sequence[str]) -> tuple[Path | None, tuple[str, ...]]:
    """Copy plugin files into one importable package for the job's runtime environment."""
    if not plugins:
        return None, ()
    digest = hashlib.sha256("\0".join(Path(p).read_text() for p in plugins).encode()).hexdigest()
    package = Path(tempfile.mkdtemp(prefix="hybench-ray-")) / f"hybench_plugins_{digest[:12]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules: list[str] = []
    for path in plugins:
        stem = "".join(c if c.isalnum() else "_" for c in Path(path).stem)
        name = stem if stem.isidentifier() else f"p_{stem}"
        while f"{package.name}.{name}" in modules:
            name += "_"
        shutil.copyfile(path, package / f"{name}.py")  # same file name: same error messages
        modules.append(f"{package.name}.{name}")
    return package, tuple(modules)


def _node_limits(ray) -> tuple[float, float]:
    """The CPUs and memory of the largest live node (a cell asking for more would wait forever)."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    return (max((n.get("CPU", 1) for n in nodes), default=1),
            max((n.get("memory", GIB) for n in nodes), default=GIB))


class _ObjectBank:
    """Puts each array, split plan and file in the object store once; tasks get references."""

    def __init__(self, ray):
        self.ray = ray
        self.refs: dict[Any, Any] = {}
        self.shipped: dict[Path, tuple[str, str, Any]] = {}

    def _put(self, key: Any, load: Callable[[], Any]) -> Any:
        if key not in self.refs:
            self.refs[key] = self.ray.put(load())
        return self.refs[key]

    def inputs(self, task: CellTask) -> tuple[Any, Any, Any, Any]:
        images = self._put(task.images_path, lambda: np.load(task.images_path))
        labels = self._put(task.labels_path, lambda: np.load(task.labels_path))
        plan = self._put(task.split_path, lambda: SplitPlan.load(task.split_path))
        features = (self._put(task.features_path, lambda: np.load(task.features_path))
                    if task.features_path else None)
        return images, labels, plan, features

    def files(self, task: CellTask) -> dict[str, tuple[str, str, Any]]:
        """``{param: (file name, sha256, reference to the bytes)}`` of the files the cell's
        feature reads."""
        from hybench.features import get_feature

        files = get_feature(task.feature_name, **task.feature_params).files()
        return {param: self._file(path) for param, path in files.items()}

    def _file(self, path: Path) -> tuple[str, str, Any]:
        if path not in self.shipped:
            data = path.read_bytes()
            self.shipped[path] = (path.name, hashlib.sha256(data).hexdigest(), self.ray.put(data))
        return self.shipped[path]


def _clock_actor(ray):
    """A zero-CPU actor on the head node (it outlives any worker node) noting when each cell
    (attempt) starts."""
    return ray.remote(CellClock).options(num_cpus=0, resources={HEAD_RESOURCE: 0.001}).remote()


class CellClock:
    """Seconds since each cell's latest start, on one clock (the actor's)."""

    def __init__(self) -> None:
        self.starts: dict[str, float] = {}

    def start(self, cell: str) -> None:
        self.starts[cell] = time.monotonic()

    def elapsed(self) -> dict[str, float]:
        now = time.monotonic()
        return {cell: now - started for cell, started in self.starts.items()}


def _remote_cell(task: CellTask, images: np.ndarray, labels: np.ndarray, plan: SplitPlan,
                 features: np.ndarray | None, files: dict[str, tuple[str, str, Any]],
                 plugin_modules: tuple[str, ...], clock) -> tuple[str, object, str]:
    """One cell on a Ray worker: ``(status, record or message, captured output)``."""
    import ray

    clock.start.remote(task.cell_id)  # no wait: a busy clock never delays or fails a cell
    with _captured_output() as read_log:
        try:
            for module in plugin_modules:
                importlib.import_module(module)
            local = {param: _materialise(name, digest, ray.get(ref))
                     for param, (name, digest, ref) in files.items()}
            inputs = CellInputs(images, labels, plan, features,
                                {**task.feature_params, **local} if local else None)
            with thread_limits(task):
                outcome: tuple[str, object] = ("ok", run_cell(task, inputs))
        except Exception as exc:  # any failure of the cell is data for its record
            outcome = ("error", describe_failure(exc))
    return (*outcome, read_log())


def _materialise(name: str, digest: str, data: bytes) -> str:
    """A worker-local copy of a shipped file (kept per content hash, written atomically)."""
    path = Path(tempfile.gettempdir()) / "hybench-ray-files" / digest / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: handle.write(data))
    return str(path)


@contextlib.contextmanager
def _captured_output() -> Iterator[Callable[[], str]]:
    """Send fd 1 and 2 (native libraries included) to a temporary file for the block; yields a
    reader of what was written."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as log:
        text = ""
        for fd in (1, 2):
            os.dup2(log.fileno(), fd)
        try:
            yield lambda: text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            log.seek(0)
            text = log.read().decode(errors="replace")
