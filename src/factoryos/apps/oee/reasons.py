"""Downtime reason codes: the plant's catalog, and the reasons attached to stops.

The catalog is data (the ``oee.reasons`` section of the apps file): a reason code (an int,
as PLCs and operator terminals use) maps to a text and the loss it stands for. Code 0 is
reserved: a PLC fault-code tag reads 0 when nothing is wrong, so 0 never names a reason.

A stop's reason comes from one of two sources (:class:`ReasonSource`): **automatic** (the
machine's reason tag) or **operator** (entered at a terminal); docs/oee.md says which wins.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.state import PLANNED_CATEGORIES
from factoryos.apps.oee.taxonomy import TimeCategory

MAX_CODE = 2**31 - 1  # a DINT, the widest code a PLC tag commonly carries


class UnknownReasonError(InvalidInputError):
    """A reason code that is not in the catalog."""


class LossClass(StrEnum):
    """Nakajima's six big losses, plus ``planned`` for time the plan took away."""

    BREAKDOWNS = "breakdowns"
    SETUP_ADJUSTMENTS = "setup_adjustments"
    SMALL_STOPS = "small_stops"
    REDUCED_SPEED = "reduced_speed"
    STARTUP_REJECTS = "startup_rejects"
    PRODUCTION_REJECTS = "production_rejects"
    PLANNED = "planned"


_C = TimeCategory
#: The loss class time in each non-production category counts as (docs/oee.md).
CATEGORY_LOSS: Mapping[TimeCategory, LossClass] = {
    _C.UNPLANNED_DOWN: LossClass.BREAKDOWNS,
    _C.SETUP: LossClass.SETUP_ADJUSTMENTS,
    _C.IDLE: LossClass.SMALL_STOPS,
    _C.MICRO_STOP: LossClass.SMALL_STOPS,
    **dict.fromkeys(PLANNED_CATEGORIES, LossClass.PLANNED),
}


class ReasonSpec(BaseModel):
    """One catalog entry: what the code means and which loss it stands for.

    ``category``, when given, is the stop category the reason is meant for; it must belong
    to ``loss`` (a "planned maintenance" reason cannot be a breakdown).
    """

    # Not strict: the loss and the category arrive as strings from YAML and JSON.
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1, max_length=200)
    loss: LossClass
    category: TimeCategory | None = None

    @model_validator(mode="after")
    def _category_fits_loss(self) -> Self:
        if self.category is None:
            return self
        fits = CATEGORY_LOSS.get(self.category)
        if fits is not self.loss:
            raise ValueError(
                f"reason {self.text!r}: category {self.category} is a "
                f"{fits or 'production'} loss, not {self.loss}"
            )
        return self


Code = Annotated[int, Field(ge=1, le=MAX_CODE)]


class ReasonCatalog(RootModel[dict[Code, ReasonSpec]]):
    """``code → ReasonSpec``; keys may be YAML ints or JSON strings of digits."""

    model_config = ConfigDict(frozen=True)

    def spec(self, code: int, where: str) -> ReasonSpec:
        """The entry for ``code``; :class:`UnknownReasonError` naming ``where`` if none."""
        found = self.root.get(code)
        if found is None:
            raise UnknownReasonError(f"{where}: reason code {code} is not in the catalog")
        return found


class ReasonSource(StrEnum):
    AUTOMATIC = "automatic"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Reason:
    """The reason attached to one stop.

    ``loss`` is None for an automatic code missing from the catalog: it is shown under its
    code rather than dropped or guessed.
    """

    code: int
    source: ReasonSource
    text: str
    loss: LossClass | None
    comment: str = ""
    user: str | None = None

    @property
    def key(self) -> str:
        """The label the Pareto groups by: code and text."""
        return f"{self.code} {self.text}"


@dataclass(frozen=True, slots=True)
class OperatorEntry:
    """A reason entered by ``user`` for the stop of ``equipment`` starting near ``start_ns``."""

    equipment: str
    start_ns: int
    code: int
    comment: str = ""
    user: str = ""


def operator_reason(catalog: ReasonCatalog, entry: OperatorEntry) -> Reason:
    """The :class:`Reason` an entry stands for; an unknown code is refused."""
    where = f"operator entry by {entry.user!r} for {entry.equipment!r} at {entry.start_ns} ns"
    spec = catalog.spec(entry.code, where)
    return Reason(
        entry.code, ReasonSource.OPERATOR, spec.text, spec.loss, entry.comment, entry.user
    )


def automatic_reason(catalog: ReasonCatalog, code: int) -> Reason:
    """The :class:`Reason` for a machine code; an unknown code keeps its number, no text."""
    spec = catalog.root.get(code)
    if spec is None:
        return Reason(code, ReasonSource.AUTOMATIC, "(not in catalog)", None)
    return Reason(code, ReasonSource.AUTOMATIC, spec.text, spec.loss)
