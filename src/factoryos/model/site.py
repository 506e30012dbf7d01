"""The site file: one YAML file per site describing assets, devices and tag address maps.

The asset tree follows ISA-95: enterprise → site → area → line → work cell → equipment.
Every tag's Unified Namespace path is ``site/area/line/cell/equipment/tag``.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from factoryos.model.devices import PROTOCOLS, AnyDevice, Device, MqttDevice
from factoryos.model.errors import SiteFileError, SiteProblem
from factoryos.model.retention import RetentionConfig
from factoryos.model.tags import ADDRESS_FIELDS, ModbusTable, Name, Strict, Tag
from factoryos.model.uns import join
from factoryos.model.yamlfile import (
    Path_,
    dotted,
    line_of,
    parse_yaml,
    read_text,
    validation_problems,
)


class Level(StrEnum):
    """ISA-95 equipment hierarchy levels."""

    ENTERPRISE = "enterprise"
    SITE = "site"
    AREA = "area"
    LINE = "line"
    CELL = "cell"
    EQUIPMENT = "equipment"


SimModel = Literal["cnc", "injection", "packaging", "compressor", "energy_meter"]


class SimSpec(Strict):
    """How the virtual factory simulates a piece of equipment."""

    model: SimModel
    params: dict[str, float] = Field(default_factory=dict)


class Equipment(Strict):
    name: Name
    description: str = ""
    device: str | None = Field(default=None, description="Name of the device serving its tags.")
    simulate: SimSpec | None = None
    tags: list[Tag] = Field(default_factory=list)


class Cell(Strict):
    name: Name
    description: str = ""
    equipment: list[Equipment]


class Line(Strict):
    name: Name
    description: str = ""
    cells: list[Cell]


class Area(Strict):
    name: Name
    description: str = ""
    lines: list[Line]


class Site(Strict):
    name: Name
    enterprise: Name = "enterprise"
    tenant: Name = "default"
    description: str = ""
    timezone: str = "UTC"
    areas: list[Area]


class SiteFile(Strict):
    """A whole site file."""

    site: Site
    devices: list[Device] = Field(default_factory=list)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    def device(self, name: str) -> AnyDevice:
        return next(d for d in self.devices if d.name == name)

    def equipment(self) -> Iterator["EquipmentRef"]:
        s = self.site
        for ai, area in enumerate(s.areas):
            for li, line in enumerate(area.lines):
                for ci, cell in enumerate(line.cells):
                    for ei, eq in enumerate(cell.equipment):
                        loc: Path_ = ("site", "areas", ai, "lines", li, "cells", ci)
                        yield EquipmentRef(
                            path=join(s.name, area.name, line.name, cell.name, eq.name),
                            equipment=eq,
                            loc=(*loc, "equipment", ei),
                        )

    def tags(self) -> Iterator["TagRef"]:
        """Every tag of the site with its Unified Namespace path, in file order."""
        for ref in self.equipment():
            for ti, tag in enumerate(ref.equipment.tags):
                yield TagRef(
                    path=f"{ref.path}/{tag.name}",
                    tag=tag,
                    equipment=ref.equipment,
                    loc=(*ref.loc, "tags", ti),
                )


@dataclass(frozen=True)
class EquipmentRef:
    path: str
    equipment: Equipment
    loc: Path_


@dataclass(frozen=True)
class TagRef:
    path: str
    tag: Tag
    equipment: Equipment
    loc: Path_


def _duplicates(names: list[str]) -> set[str]:
    return {n for n, c in Counter(names).items() if c > 1}


def _sibling_problems(site: SiteFile) -> Iterator[tuple[Path_, str]]:
    groups: list[tuple[Path_, list[str]]] = [(("devices",), [d.name for d in site.devices])]
    groups.append((("site", "areas"), [a.name for a in site.site.areas]))
    for ai, area in enumerate(site.site.areas):
        groups.append((("site", "areas", ai, "lines"), [x.name for x in area.lines]))
        for li, line in enumerate(area.lines):
            groups.append(
                (("site", "areas", ai, "lines", li, "cells"), [c.name for c in line.cells])
            )
    for ref in site.equipment():
        groups.append(((*ref.loc, "tags"), [t.name for t in ref.equipment.tags]))
    names_by_cell: dict[str, list[str]] = {}
    for ref in site.equipment():
        names_by_cell.setdefault(ref.path.rsplit("/", 1)[0], []).append(ref.equipment.name)
    for cell, names in names_by_cell.items():
        for dup in _duplicates(names):
            yield ("site",), f"equipment name {dup!r} appears twice in cell {cell}"
    for loc, names in groups:
        for dup in sorted(_duplicates(names)):
            yield loc, f"name {dup!r} appears more than once"


def _retention_problems(site: SiteFile) -> Iterator[tuple[Path_, str]]:
    classes = site.retention.classes
    for ref in site.tags():
        name = ref.tag.retention
        if name is not None and name not in classes:
            known = ", ".join(sorted(classes)) or "none defined"
            yield (*ref.loc, "retention"), f"unknown retention class {name!r} (known: {known})"


def _register_span(tag: Tag) -> tuple[ModbusTable, int, int]:
    assert tag.modbus is not None
    return tag.modbus.table, tag.modbus.address, tag.modbus.address + tag.type.words


def _device_problems(site: SiteFile) -> Iterator[tuple[Path_, str]]:
    devices = {d.name for d in site.devices}
    used: dict[str, list[tuple[ModbusTable, int, int, str]]] = {}
    for ref in site.equipment():
        eq = ref.equipment
        if eq.device is not None and eq.device not in devices:
            yield (*ref.loc, "device"), f"no device named {eq.device!r} under devices"
            continue
        protocol = site.device(eq.device).protocol if eq.device is not None else None
        for ti, tag in enumerate(eq.tags):
            if tag.protocol is None:
                continue
            field = next(f for f, p in ADDRESS_FIELDS.items() if p == tag.protocol)
            if protocol != tag.protocol:
                why = f"device {eq.device} speaks {protocol}" if protocol else "no device"
                yield (*ref.loc, "tags", ti, field), f"a {tag.protocol} address, but {why}"
                continue
            if tag.modbus is None or eq.device is None:
                continue
            table, lo, hi = _register_span(tag)
            for o_table, o_lo, o_hi, o_path in used.get(eq.device, []):
                if table == o_table and lo < o_hi and o_lo < hi:
                    yield (
                        (*ref.loc, "tags", ti, "modbus"),
                        f"{table} registers {lo}..{hi - 1} overlap tag {o_path} "
                        f"on device {eq.device}",
                    )
            if hi > 65536:
                yield (*ref.loc, "tags", ti, "modbus"), "value runs past register 65535"
            used.setdefault(eq.device, []).append((table, lo, hi, f"{ref.path}/{tag.name}"))


def _templates(site: SiteFile) -> dict[str, str | None]:
    return {d.name: d.topic_template for d in site.devices if isinstance(d, MqttDevice)}


def _topic_problems(site: SiteFile) -> Iterator[tuple[Path_, str]]:
    templates = _templates(site)
    for ref in site.tags():
        mqtt, device = ref.tag.mqtt, ref.equipment.device
        if mqtt is not None and mqtt.topic is None and templates.get(device or "") is None:
            yield (*ref.loc, "mqtt"), f"no topic: set mqtt.topic or topic_template on {device}"


def _topic_of(ref: "TagRef", template: str) -> str:
    site, area, line, cell, equipment, tag = ref.path.split("/")
    fields = {"site": site, "area": area, "line": line, "cell": cell}
    return template.format(**fields, equipment=equipment, tag=tag, path=ref.path)


def _with_topics(site: SiteFile) -> SiteFile:
    """The site with every templated MQTT tag given its topic, so drivers need no template."""
    templates = _templates(site)
    if not any(templates.values()):
        return site
    topics = {
        ref.path: _topic_of(ref, templates[ref.equipment.device or ""] or "")
        for ref in site.tags()
        if ref.tag.mqtt is not None and ref.tag.mqtt.topic is None
    }
    data = site.model_dump(mode="python", exclude_unset=True)
    for ref in site.tags():
        if ref.path in topics:
            node: Any = data
            for key in ref.loc:
                node = node[key]
            node["mqtt"]["topic"] = topics[ref.path]
    return SiteFile.model_validate(data)


def _data_loc(loc: tuple[str | int, ...]) -> Path_:
    """Drop the protocol name pydantic inserts into a device's location (devices[0].opcua.x)."""
    if len(loc) > 2 and loc[0] == "devices" and loc[2] in PROTOCOLS:
        return (*loc[:2], *loc[3:])
    return loc


def parse_site(text: str, source: Path | str = "<site>") -> SiteFile:
    """Validate site-file text; raise :class:`SiteFileError` naming file, line and field."""
    data, lines = parse_yaml(text, source, SiteFileError)
    if not isinstance(data, dict):
        raise SiteFileError(source, [SiteProblem("(file)", 1, "expected a mapping with 'site:'")])
    try:
        site = SiteFile.model_validate(data)
    except ValidationError as exc:
        raise SiteFileError(source, validation_problems(exc, lines, fix_loc=_data_loc)) from exc
    found: list[tuple[Path_, str]] = [
        *_sibling_problems(site),
        *_device_problems(site),
        *_topic_problems(site),
        *_retention_problems(site),
    ]
    if found:
        problems = [SiteProblem(dotted(loc), line_of(lines, loc), msg) for loc, msg in found]
        raise SiteFileError(source, problems)
    return _with_topics(site)


def load_site(path: Path | str) -> SiteFile:
    """Load and validate a site file; nothing is returned unless all of it is valid."""
    return parse_site(read_text(path, SiteFileError), path)


def dump_schema() -> dict[str, Any]:
    """The JSON schema of a site file, for editors and docs."""
    return SiteFile.model_json_schema()
