"""User-facing errors: one line that names the problem and the fix; the CLI exits 2."""


class HybenchError(Exception):
    """A problem with the user's input or environment, reported as one line with exit code 2."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})" if fix else problem)


class ResourceUnavailable(HybenchError):
    """Something a cell needs is not on this machine (e.g. pretrained weights offline).

    The run records the affected cells as ``skipped`` with this message instead of failing.
    """


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message ("" when it has none), for one-line reports."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
