"""Errors of the domain model."""

from dataclasses import dataclass
from pathlib import Path

from factoryos.errors import FactoryOSError


class ModelError(FactoryOSError):
    """Root of the model package's errors."""


@dataclass(frozen=True)
class SiteProblem:
    """One thing wrong in a configuration file (site file, apps file), with where it is."""

    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        return f"{where}: {self.field}: {self.message}"


class ConfigFileError(ModelError):
    """A configuration file that cannot be loaded; lists every problem with line and field."""

    def __init__(self, path: Path | str, problems: list[SiteProblem]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(
            f"  {self.path}:{p.line if p.line is not None else '?'}: {p.field}: {p.message}"
            for p in problems
        )
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{self.path}: {len(problems)} {noun}\n{lines}")


class SiteFileError(ConfigFileError):
    """A site file that cannot be loaded."""


class AppsFileError(ConfigFileError):
    """An apps file (the applications' configuration) that cannot be loaded."""
