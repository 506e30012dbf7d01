"""Errors of production scheduling."""

from factoryos.errors import FactoryOSError


class SchedulingError(FactoryOSError):
    """Root of the scheduling application's errors."""


class ProblemError(SchedulingError):
    """A problem that cannot be scheduled as given: the message says what and where."""


class InfeasibleError(SchedulingError):
    """No schedule satisfies the problem; ``reasons`` explain why, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("no feasible schedule:\n" + "\n".join(f"  - {r}" for r in reasons))


class InstanceFormatError(SchedulingError):
    """A benchmark instance file with a format error, naming the file and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line = source, line
        super().__init__(f"{source}:{line}: {message}")
