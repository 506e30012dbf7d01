"""An identifier's record: what its owner publishes about the thing it names.

Resolution is public across tenants (docs/identifiers.md), so a record holds only what the
owner chose to publish: what the thing is, product data as flat fields, its digital twin (an
asset's UNS path or an AAS id) and the EPC identifiers whose EPCIS events are its history.
Every part is bounded, and so is the whole as JSON, so one registration cannot fill the
catalog or a resolver's cache.
"""

import math
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from factoryos.twin.errors import RecordError

MAX_RECORD_BYTES = 16_384  # the record as compact JSON
MAX_FIELDS = 64
MAX_TEXT = 1_000
MAX_EPCS = 32
MAX_URI = 400
MAX_INT = 2**53  # what a JSON reader in any language holds exactly

FieldName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$")
]


def _check_value(value: str | int | float | bool | None) -> str | int | float | bool | None:
    """One check per type after the union picked it, so an error names the field, not the
    union's alternatives."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"{len(value):,} characters, at most {MAX_TEXT:,}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ValueError("an integer beyond ±2^53 (JSON readers lose digits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


FieldValue = Annotated[str | int | float | bool | None, AfterValidator(_check_value)]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URI, pattern=r"^[!-~]+$")]


class Record(BaseModel):
    """What an identifier resolves to (besides its handle and times)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="What the identifier names: product, part, batch, asset, document …",
    )
    name: str = Field(default="", max_length=200, description="A name for people.")
    data: dict[FieldName, FieldValue] = Field(
        default_factory=dict,
        max_length=MAX_FIELDS,
        description=f"Product data: at most {MAX_FIELDS} flat fields (text, number, true/false).",
    )
    twin: Uri | None = Field(
        default=None, description="The digital twin: an asset's UNS path or an AAS id."
    )
    epcs: list[Uri] = Field(
        default_factory=list,
        max_length=MAX_EPCS,
        description="EPC URIs (or GS1 Digital Link URIs) whose EPCIS events are the history.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        size = len(self.model_dump_json())
        if size > MAX_RECORD_BYTES:
            raise ValueError(f"{size:,} bytes as JSON, at most {MAX_RECORD_BYTES:,}")
        return self


def parse_record(value: Any) -> Record:
    """``value`` (a mapping, or a Record) as a :class:`Record`; :class:`RecordError` naming
    the first field that is wrong otherwise."""
    if isinstance(value, Record):
        return value
    try:
        return Record.model_validate(value)
    except ValidationError as exc:
        raise RecordError(_first_problem(exc)) from exc


def load_record(text: str) -> Record:
    """A record as stored (JSON text the registry wrote)."""
    try:
        return Record.model_validate_json(text)
    except ValidationError as exc:
        raise RecordError(f"stored {_first_problem(exc)}") from exc


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in ("record", *error["loc"]))
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


__all__ = ["MAX_RECORD_BYTES", "Record", "load_record", "parse_record"]
