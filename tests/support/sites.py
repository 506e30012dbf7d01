"""Site files for tests, built from a few named pieces instead of copied YAML.

The shared plant: ``plant1/machining/line1/cell1`` with ``cnc-01`` (power_kw, spindle_rpm)
and ``cnc-02`` (temp_c). A test about the exact text of a site file keeps its own YAML.
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Equipment:
    """One equipment; ``tags`` and ``simulate`` are YAML flow mappings (``{name: t}``)."""

    name: str
    tags: tuple[str, ...]
    description: str = ""
    device: str = ""
    simulate: str = ""


@dataclass(frozen=True)
class Cell:
    """An area with one line of one cell: all the hierarchy the tests need."""

    area: str
    line: str
    cell: str
    equipment: tuple[Equipment, ...]


CNC_01 = Equipment(
    "cnc-01",
    (
        "{name: power_kw, unit: kW, description: Spindle power, range: [0, 50]}",
        "{name: spindle_rpm, unit: rpm, type: uint16}",
    ),
    description="5-axis CNC centre",
)
CNC_02 = Equipment("cnc-02", ("{name: temp_c, unit: degC, range: [0, 120]}",))
MACHINING = Cell("machining", "line1", "cell1", (CNC_01, CNC_02))
COMPRESSOR_01 = Equipment("compressor-01", ("{name: pressure_bar, unit: bar}",))
AIR_STATION = Cell("utilities", "air", "station", (COMPRESSOR_01,))

PLANT = "plant1"
POWER = "plant1/machining/line1/cell1/cnc-01/power_kw"
RPM = "plant1/machining/line1/cell1/cnc-01/spindle_rpm"
TEMP = "plant1/machining/line1/cell1/cnc-02/temp_c"


def _equipment_yaml(eq: Equipment) -> list[str]:
    lines = [f"                - name: {eq.name}"]
    for key in ("description", "device", "simulate"):
        if value := getattr(eq, key):
            lines.append(f"                  {key}: {value}")
    lines.append("                  tags:")
    return lines + [f"                    - {tag}" for tag in eq.tags]


def site_yaml(
    tenant: str | None = "acme",
    *,
    name: str = PLANT,
    enterprise: str | None = None,
    cells: Sequence[Cell] = (MACHINING,),
    devices: Sequence[str] = (),
) -> str:
    """A site file's text; ``devices`` are YAML flow mappings (``{name: plc1, port: 502}``)."""
    lines = ["site:", f"  name: {name}"]
    lines += [f"  tenant: {tenant}"] if tenant else []
    lines += [f"  enterprise: {enterprise}"] if enterprise else []
    lines.append("  areas:")
    for c in cells:
        lines += [
            f"    - name: {c.area}",
            "      lines:",
            f"        - name: {c.line}",
            "          cells:",
            f"            - name: {c.cell}",
            "              equipment:",
        ]
        for eq in c.equipment:
            lines += _equipment_yaml(eq)
    if devices:
        lines += ["devices:", *(f"  - {d}" for d in devices)]
    return "\n".join(lines) + "\n"
