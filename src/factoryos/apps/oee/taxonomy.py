"""Time categories of the ISO 22400 time model and how a plant's OEE definition uses them.

Plants disagree on what counts as planned time and how performance is measured, so the
choice is data: a :class:`Taxonomy`. ``PRESETS`` holds the ISO 22400-2 default and two
common alternatives; docs/oee.md lists their differences.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TimeCategory(StrEnum):
    """Where one interval of an equipment's calendar time went.

    The PackML state a category usually comes from is given for orientation; deriving
    categories from machine states is not built yet.
    """

    PRODUCING = "producing"  # PackML Execute: making parts
    MICRO_STOP = "micro_stop"  # short stops not recorded as downtime (speed/minor stop loss)
    SETUP = "setup"  # PackML Held here: changeover, warm-up (ISO AUST)
    UNPLANNED_DOWN = "unplanned_down"  # PackML Aborted: failure, in repair (ISO ADET)
    IDLE = "idle"  # PackML Idle: starved, blocked, no operator while planned to run
    NO_ORDER = "no_order"  # nothing scheduled on the equipment
    PLANNED_DOWNTIME = "planned_downtime"  # planned maintenance, cleaning, tests
    BREAK = "break"  # a break inside a shift
    NO_SHIFT = "no_shift"  # outside the shift plan (nights, weekends, holidays)


class PerformanceMethod(StrEnum):
    """How effectiveness (performance) is measured."""

    #: ISO 22400-2: Σ(produced × ideal cycle time) / APT; needs an ideal cycle time per product.
    CYCLE_TIME = "cycle_time"
    #: Time only: PRODUCING time / APT; catches micro-stops, not slow running.
    TIME = "time"


# Only these may form the actual production time: a setup or a failure is never production.
_PRODUCTION_CANDIDATES = frozenset({TimeCategory.PRODUCING, TimeCategory.MICRO_STOP})


class Taxonomy(BaseModel):
    """One plant's OEE definition.

    - ``not_planned``: categories subtracted from calendar time to give the planned busy
      time (PBT); every other category is planned, and a loss unless it is production.
    - ``production``: categories that make up the actual production time (APT).
    - ``performance``: the :class:`PerformanceMethod`.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    not_planned: frozenset[TimeCategory]
    production: frozenset[TimeCategory]
    performance: PerformanceMethod

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if TimeCategory.PRODUCING not in self.production:
            raise ValueError(f"taxonomy {self.name!r}: production must include 'producing'")
        extra = self.production - _PRODUCTION_CANDIDATES
        if extra:
            raise ValueError(
                f"taxonomy {self.name!r}: only producing and micro_stop can be production, "
                f"not {sorted(extra)}"
            )
        if self.production & self.not_planned:
            raise ValueError(
                f"taxonomy {self.name!r}: {sorted(self.production & self.not_planned)} "
                "cannot be both production and not planned"
            )
        return self


_C = TimeCategory

ISO22400 = Taxonomy(
    name="iso22400",
    not_planned=frozenset({_C.NO_SHIFT, _C.BREAK, _C.PLANNED_DOWNTIME, _C.NO_ORDER}),
    production=frozenset({_C.PRODUCING, _C.MICRO_STOP}),
    performance=PerformanceMethod.CYCLE_TIME,
)
#: Everything is planned time: A × E × Q over calendar time is TEEP.
TEEP = Taxonomy(
    name="teep",
    not_planned=frozenset(),
    production=frozenset({_C.PRODUCING, _C.MICRO_STOP}),
    performance=PerformanceMethod.CYCLE_TIME,
)
#: Plants that expect equipment to run through breaks: a break is an availability loss.
BREAKS_PLANNED = Taxonomy(
    name="breaks_planned",
    not_planned=frozenset({_C.NO_SHIFT, _C.PLANNED_DOWNTIME, _C.NO_ORDER}),
    production=frozenset({_C.PRODUCING, _C.MICRO_STOP}),
    performance=PerformanceMethod.CYCLE_TIME,
)

PRESETS: dict[str, Taxonomy] = {t.name: t for t in (ISO22400, TEEP, BREAKS_PLANNED)}
DEFAULT = ISO22400
