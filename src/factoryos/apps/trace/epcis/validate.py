"""An EPCIS 2.0 JSON/JSON-LD document checked against GS1's official JSON schema.

A document is accepted whole or refused whole: every problem is reported with the path of
the offending field (``epcisBody.eventList[2].bizStep``), and text that is not JSON with its
line and column. The schema is the standard's own file, shipped in ``standard/``.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from factoryos.apps.trace.errors import TraceError

SCHEMA = Path(__file__).with_name("standard") / "EPCIS-JSON-Schema.json"
MAX_PROBLEMS = 20  # enough to fix a document; a wholly wrong one would list thousands


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    path: str  # JSON path of the offending field, "(document)" for the whole
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EpcisDocumentError(TraceError):
    """A document that is not valid EPCIS 2.0; nothing of it is stored."""

    def __init__(self, source: str, problems: list[DocumentProblem]) -> None:
        self.source, self.problems = source, problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: not a valid EPCIS 2.0 document\n{lines}")


def json_path(parts: Any) -> str:
    """``['epcisBody', 'eventList', 2, 'bizStep']`` → ``epcisBody.eventList[2].bizStep``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


@cache
def _validator() -> Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=FormatChecker())


def _problem(error: ValidationError) -> DocumentProblem:
    # An event failing its type's branch reports "is not valid under any of the given
    # schemas" at the event; the deepest sub-error names the field that broke it.
    deepest = best_match(error.context) if error.context else None
    deepest = deepest or error
    return DocumentProblem(json_path(deepest.absolute_path), deepest.message)


def validate_document(document: Any, source: str = "<document>") -> None:
    """Raise :class:`EpcisDocumentError` listing the document's problems, if any."""
    found = _validator().iter_errors(document)
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    problems: list[DocumentProblem] = []
    for error in errors:
        problem = _problem(error)
        if problem not in problems:
            problems.append(problem)
    raise EpcisDocumentError(source, problems[:MAX_PROBLEMS])


def parse_document(text: str | bytes, source: str = "<document>") -> Any:
    """JSON text as data, validated; text that is not JSON names its line and column."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        problem = DocumentProblem("(text)", f"not JSON at {where}: {exc.msg}")
        raise EpcisDocumentError(source, [problem]) from exc
    except UnicodeDecodeError as exc:
        problem = DocumentProblem("(text)", f"not UTF-8: {exc.reason}")
        raise EpcisDocumentError(source, [problem]) from exc
    validate_document(document, source)
    return document


__all__ = [
    "DocumentProblem",
    "EpcisDocumentError",
    "json_path",
    "parse_document",
    "validate_document",
]
