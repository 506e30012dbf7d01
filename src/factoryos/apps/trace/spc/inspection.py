"""An inspection result as posted, and whether it fits its characteristic's chart. Pure.

What a result carries depends on the chart (one result is one point):

=========================  =====================================================
chart                      fields
=========================  =====================================================
xbar_r, xbar_s             ``values``: the subgroup, exactly ``subgroup.size`` of them
imr                        ``values``: one measurement
p, np                      ``defectives`` and ``sample_size`` (units inspected)
c                          ``defects`` (in one inspection unit of constant size)
u                          ``defects`` and ``sample_size`` (inspection units)
=========================  =====================================================
"""

from dataclasses import dataclass

from factoryos.apps.trace.spc.config import CharacteristicSpec
from factoryos.apps.trace.spc.errors import SpcError

FIELDS = ("values", "defectives", "defects", "sample_size")
NEEDS: dict[str, tuple[str, ...]] = {
    "xbar_r": ("values",),
    "xbar_s": ("values",),
    "imr": ("values",),
    "p": ("defectives", "sample_size"),
    "np": ("defectives", "sample_size"),
    "c": ("defects",),
    "u": ("defects", "sample_size"),
}


class InspectionInputError(SpcError):
    """A result that does not fit its characteristic; ``field`` names the wrong one."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class InspectionInput:
    ts: int
    lot: str | None = None
    equipment: str | None = None
    values: tuple[float, ...] | None = None
    defectives: int | None = None
    defects: int | None = None
    sample_size: float | None = None
    comment: str = ""


def check_input(spec: CharacteristicSpec, given: InspectionInput) -> None:
    """Raise :class:`InspectionInputError` naming the first field that does not fit."""
    needed = NEEDS[spec.chart]
    for name in FIELDS:
        present = getattr(given, name) is not None
        if name in needed and not present:
            raise InspectionInputError(name, f"required for a {spec.chart} chart")
        if name not in needed and present:
            raise InspectionInputError(name, f"not used by a {spec.chart} chart ({_uses(spec)})")
    if given.values is not None and len(given.values) != spec.subgroup.size:
        raise InspectionInputError(
            "values", f"give {spec.subgroup.size} measurements (the subgroup size)"
        )
    defectives, size = given.defectives, given.sample_size
    if defectives is not None and size is not None and defectives > size:
        raise InspectionInputError("defectives", "more defectives than units inspected")


def _uses(spec: CharacteristicSpec) -> str:
    return "it takes " + " and ".join(NEEDS[spec.chart])


def count_of(given: InspectionInput) -> int | None:
    """The stored count: defectives (p, np) or defects (c, u)."""
    return given.defectives if given.defectives is not None else given.defects
