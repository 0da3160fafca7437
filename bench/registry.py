"""One registry type for datasets, features and model entries.

Lookup by exact name or glob, one-line errors that list close matches, and no silent overwrite: a
second registration of a name is an error unless it comes from the same module and function (a
module imported again, e.g. a plugin file reloaded in a notebook). Built-ins load one way: lazily,
on the first lookup or registration, from the registry's own list of modules and entry points.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from hybench.errors import HybenchError

T = TypeVar("T")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class Registry(Generic[T]):
    """Named items of one kind (``kind`` names it in messages, e.g. ``"model"``).

    ``builtins`` are modules imported, and ``entry_point_group`` entry points loaded, before the
    first lookup or registration, so their names are always taken first.
    """

    def __init__(
        self,
        kind: str,
        *,
        builtins: Iterable[str] = (),
        entry_point_group: str | None = None,
        list_command: str = "",
    ):
        self.kind = kind
        self.builtins = tuple(builtins)
        self.entry_point_group = entry_point_group
        self.list_command = list_command
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False

    def register(self, name: str, item: T, *, origin: str) -> None:
        """Add ``item`` under ``name``; ``origin`` (:func:`origin_of`) identifies its source."""
        self._ensure_loaded()
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise HybenchError(
                f"invalid {self.kind} name {name!r}",
                "use letters, digits, '-', '_' and '.', starting with a letter or digit",
            )
        known = self._origins.get(name)
        if known is not None and known != origin:
            raise HybenchError(
                f"{self.kind} {name!r} is already registered by {known}",
                f"choose another name for the one in {origin}",
            )
        self._items[name] = item
        self._origins[name] = origin

    def get(self, name: str) -> T:
        """The item named ``name``; an unknown name lists close matches."""
        self._ensure_loaded()
        if name not in self._items:
            raise HybenchError(f"unknown {self.kind} {name!r}", self._suggestion(name))
        return self._items[name]

    def names(self, patterns: str | Iterable[str] = "*") -> list[str]:
        """Sorted names matching one glob or any of several."""
        self._ensure_loaded()
        globs = [patterns] if isinstance(patterns, str) else list(patterns)
        return sorted(n for n in self._items if any(fnmatch.fnmatch(n, g) for g in globs))

    def resolve(self, patterns: Iterable[str]) -> list[str]:
        """Every name matched by ``patterns`` in pattern order; a pattern matching none is an error.
        """
        found: list[str] = []
        for pattern in patterns:
            matched = self.names(pattern)
            if not matched:
                raise HybenchError(
                    f"{self.kind} glob {pattern!r} matches no registered entry",
                    self._suggestion(pattern),
                )
            found.extend(n for n in matched if n not in found)
        return found

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._items

    def _suggestion(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.6)
        listing = f"run `{self.list_command}` to list them" if self.list_command else (
            f"known: {', '.join(sorted(self._items))}")
        return f"did you mean {', '.join(close)}? ({listing})" if close else listing

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # before importing: the modules register into this registry
        for module in self.builtins:
            importlib.import_module(module)
        if self.entry_point_group:
            for point in entry_points(group=self.entry_point_group):
                try:
                    point.load()
                except Exception as exc:
                    raise HybenchError(
                        f"entry point {point.name!r} ({point.value}) of group "
                        f"{self.entry_point_group} failed to load: {type(exc).__name__}: {exc}",
                        "fix or uninstall the package that provides it",
                    ) from exc


def origin_of(fn: Callable) -> str:
    """Where a registration came from: ``module.qualname (file)`` of the registered function."""
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    code = getattr(fn, "__code__", None)
    return f"{name} ({code.co_filename})" if code else name
