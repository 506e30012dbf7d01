"""Counts of an attack test run (operations covered, requests sent, failures), printed and
written as JSON, so the numbers in docs/security.md come from a real run."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MAX_LISTED = 20
"""Failures listed in full; past that only counted (a broken route would flood the report)."""


@dataclass
class Tally:
    name: str
    operations: set[str] = field(default_factory=set)
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    """Findings that are counted but do not fail the test (documentation gaps)."""

    def sent(self, operation: str, status: int) -> None:
        self.operations.add(operation)
        self.requests += 1
        self.statuses[status] += 1

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def as_dict(self) -> dict[str, object]:
        return {
            "test": self.name,
            "operations": len(self.operations),
            "requests": self.requests,
            "failures": len(self.failures),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "notes": dict(sorted(self.notes.items())),
        }

    def report(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """Prints the counts and writes them to ``security-counts/<name>.json`` under the
        run's base temporary directory; returns that file."""
        folder = tmp_path_factory.getbasetemp() / "security-counts"
        folder.mkdir(exist_ok=True)
        path = folder / f"{self.name}.json"
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")
        print(f"security counts {json.dumps(self.as_dict())} -> {path}")
        return path

    def verdict(self) -> str:
        """The failures, for an assertion message."""
        shown = "\n".join(self.failures[:MAX_LISTED])
        more = len(self.failures) - MAX_LISTED
        return shown + (f"\n… and {more} more" if more > 0 else "")
