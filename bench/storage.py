"""How hybench writes files, and where its cache lives.

Every file hybench writes (run metadata, split plans, cached arrays, leaderboards, reports) goes
through :func:`write_atomic`: a temp file in the same folder, fsynced, then renamed over the
target, so a reader never sees half a file and a failure leaves neither a partial target nor a
temp file behind.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hybench.errors import HybenchError

CACHE_ENV = "HYBENCH_CACHE_DIR"


def cache_root(override: str | Path | None = None) -> Path:
    """The one cache root (``features/``, ``datasets/`` below it): ``override`` (``--cache-dir``),
    else ``$HYBENCH_CACHE_DIR``, else ``~/.cache/hybench``."""
    chosen = override or os.environ.get(CACHE_ENV)
    return Path(chosen).expanduser() if chosen else Path.home() / ".cache" / "hybench"


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temp file beside ``path``, then rename it to ``path``.

    An ``OSError`` (disk full, no permission, ``path`` is a folder) becomes a one-line error; the
    temp file is removed on any failure.
    """
    path = Path(path)
    if path.is_dir():
        raise HybenchError(f"cannot write {path}: it is a directory", "pass a file path")
    if not path.parent.is_dir():
        raise HybenchError(f"output folder {path.parent} does not exist", "create it first")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:  # mode 0o666 less the umask, as a plain open() would give (mkstemp gives 0o600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_error(path: Path, exc: OSError) -> HybenchError:
    return HybenchError(f"cannot write {path}: {exc.strerror}", "choose a writable path")


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as indented, key-sorted JSON (numpy values and NaN made JSON-safe)."""
    write_text_atomic(path, json.dumps(jsonable(payload), indent=2, sort_keys=True) + "\n")


def save_npy_atomic(path: Path, values: np.ndarray) -> None:
    """Write an array as ``.npy`` atomically, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda handle: np.save(handle, values, allow_pickle=False))


def jsonable(value):
    """``value`` with numpy arrays/scalars as plain Python and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value
