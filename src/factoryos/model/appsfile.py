"""The apps file: each application's configuration in its own top-level section.

.. code-block:: yaml

    oee:      {...}   # apps/oee
    alarms:   {...}   # apps/alarms
    notify:   {...}   # apps/notify
    trace:    {...}   # apps/trace/production (its model: apps/trace/production/config.py)

The file is parsed once; every application validates its own section with its own pydantic
model through :meth:`AppsFile.section`, and any problem is raised as
:class:`~factoryos.model.errors.AppsFileError` naming the file, the line and the field
(``alarms.rules[3].setpoint``). The model layer knows no application: the section names
and models come from the callers.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from factoryos.model.errors import AppsFileError, SiteProblem
from factoryos.model.yamlfile import (
    Path_,
    dotted,
    line_of,
    parse_yaml,
    read_text,
    validation_problems,
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class AppsFile:
    """The parsed file: raw sections and the line of every value."""

    source: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[Path_, int] = field(default_factory=dict)

    def section(self, name: str, model: type[M]) -> M | None:
        """Section ``name`` validated as ``model``; None when the file has no such section."""
        if name not in self.data:
            return None
        try:
            return model.model_validate(self.data[name])
        except ValidationError as exc:
            raise AppsFileError(
                self.source, validation_problems(exc, self.lines, base=(name,))
            ) from exc

    def checked_section(
        self, name: str, model: type[M], problems: Callable[[M], Iterable[tuple[Path_, str]]]
    ) -> M | None:
        """:meth:`section`, then every problem ``problems`` finds in it (an unknown tag, say)
        raised together, each at its value's line; None when the file has no such section."""
        section = self.section(name, model)
        if section is None:
            return None
        found = [
            SiteProblem(dotted((name, *loc)), line_of(self.lines, (name, *loc)), message)
            for loc, message in problems(section)
        ]
        if found:
            raise AppsFileError(self.source, found)
        return section

    def problem(self, path: Path_, message: str) -> AppsFileError:
        """An error for a value the section's model accepted but its application refuses
        (an unknown tag path, say), naming the value's line."""
        return AppsFileError(
            self.source, [SiteProblem(dotted(path), line_of(self.lines, path), message)]
        )

    def check_sections(self, known: set[str]) -> None:
        """Refuse sections no application reads (a misspelt ``alrams:`` must not be ignored)."""
        unknown = sorted(set(self.data) - known)
        if unknown:
            problems = [
                SiteProblem(
                    name, line_of(self.lines, (name,)), f"unknown section (known: {sorted(known)})"
                )
                for name in unknown
            ]
            raise AppsFileError(self.source, problems)


def parse_apps_file(text: str, source: Path | str = "<apps>") -> AppsFile:
    """Parse apps-file text; an empty file is a file with no sections."""
    data, lines = parse_yaml(text, source, AppsFileError)
    if data is None:
        return AppsFile(str(source))
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise AppsFileError(source, [SiteProblem("(file)", 1, "expected a mapping of sections")])
    return AppsFile(str(source), data, lines)


def load_apps_file(path: Path | str) -> AppsFile:
    """Read and parse an apps file (sections are validated by :meth:`AppsFile.section`)."""
    return parse_apps_file(read_text(path, AppsFileError), path)
