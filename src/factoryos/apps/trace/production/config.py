"""The ``trace:`` section of the apps file: which counters make units, and the GS1 keys and
rules that turn them into lots, cases and shipments.

.. code-block:: yaml

    trace:
      company_prefix: "4012345"        # GS1 Company Prefix: every key below is built on it
      location_reference: "00001"      # the plant's GLN: company prefix + this = 12 digits
      customers:                       # shipments go to these in turn (round-robin)
        - {name: Globex, party: "urn:epc:id:pgln:0614141.00001",
           location: "urn:epc:id:sgln:0614141.00001.0", order: "PO-4711"}
      lines:
        housings:                      # a name of your choosing (lower case, UNS segment)
          code: H1                     # leads every lot number of the line (1-3 of A-Z, 0-9)
          item_reference: "012345"     # indicator digit + item reference: a 13-digit GTIN body
          unit: {equipment: demo/machining/line1/cell1/cnc-03, counter: good_count}
          lot_size: 20                 # units per lot
          materials:                   # consumed by every unit, from the lot current then
            - {name: aluminium bar, lots: ["urn:epc:class:lgtin:4000001.011111.AL2501"],
               per_unit: 1.2, uom: KGM}
          packing: {equipment: demo/packaging/pack1/cell1/packer-01, case_size: 5}
          shipping: {cases: 4, dock: dock-1}

Everything is checked when the platform starts (unknown equipment or tags, keys of the
wrong length, malformed EPC URNs, duplicate codes) and a problem names the file's line.
:func:`plans` then resolves each line into a :class:`LinePlan` holding every identifier
the line's events use, so the event logic never parses configuration.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from factoryos.apps.trace.errors import IdentifierError
from factoryos.apps.trace.identifiers import EpcUrn, parse_urn, urn_to_digital_link
from factoryos.model.appsfile import AppsFile
from factoryos.model.site import SiteFile
from factoryos.model.uns import is_segment, tag_path
from factoryos.model.yamlfile import Path_

SECTION = "trace"
MAX_LINES = 100
MAX_CUSTOMERS = 1000
MAX_LOT_SIZE = 9999  # a unit's serial is the lot number, "-" and four digits: 20 characters
MIN_SSCC_SERIAL_DIGITS = 8  # SSCCs number seconds: 8 digits repeat after 3.2 years

TagName = Annotated[str, Field(min_length=1, max_length=400)]
Urn = Annotated[str, Field(min_length=1, max_length=400)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Digits = Annotated[str, Field(pattern=r"^[0-9]+$", max_length=12)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerSpec(_Section):
    name: Name
    party: Urn
    """The customer as an owning party: a ``urn:epc:id:pgln:…``."""
    location: Urn | None = None
    """Where its goods go: a ``urn:epc:id:sgln:…`` (ship-to)."""
    order: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")] | None = None
    """The customer's purchase order, named in each of its shipments (``po``)."""


class MaterialSpec(_Section):
    name: Name
    lots: list[Urn] = Field(min_length=1, max_length=1000)
    """``urn:epc:class:lgtin:…`` lots used in turn, each for ``change_every_h``."""
    per_unit: float = Field(gt=0, le=1e9, allow_inf_nan=False)
    uom: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,3}$")] | None = None
    """UN/ECE Recommendation 20 unit (KGM, MTR, LTR …); None: a count of pieces."""
    change_every_h: float = Field(default=24.0, gt=0, le=24 * 366, allow_inf_nan=False)


class CounterRef(_Section):
    equipment: Name
    counter: TagName = "good_count"


class PackingSpec(_Section):
    equipment: Name
    """The packer: where cases are closed (their events' read point)."""
    counter: TagName | None = None
    """The packer's cycle counter: each increase closes one full case. None: a case closes
    as soon as it is full."""
    case_size: int = Field(ge=1, le=10_000)


class ShippingSpec(_Section):
    cases: int = Field(ge=1, le=10_000)
    """Cases per shipment: a shipment leaves when this many are packed."""
    dock: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")] = "dock"
    """The shipping door: the extension of its GLN, the shipping events' read point."""
    customers: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_CUSTOMERS)
    """Names from ``trace.customers`` this line ships to; None: all of them."""


class LineSpec(_Section):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,3}$")]
    item_reference: Digits
    unit: CounterRef
    lot_size: int = Field(ge=1, le=MAX_LOT_SIZE)
    materials: list[MaterialSpec] = Field(min_length=1, max_length=100)
    packing: PackingSpec
    shipping: ShippingSpec
    sscc_extension: int = Field(default=0, ge=0, le=9)
    """The SSCC extension digit: give each line its own so their SSCCs never meet."""


class TraceSection(_Section):
    company_prefix: Annotated[str, Field(pattern=r"^[0-9]{6,12}$")]
    location_reference: Digits
    customers: list[CustomerSpec] = Field(min_length=1, max_length=MAX_CUSTOMERS)
    lines: dict[str, LineSpec] = Field(min_length=1, max_length=MAX_LINES)
    max_units_per_sample: int = Field(default=10_000, ge=1, le=1_000_000)
    """A counter rising more than this between two samples is not believed (a PLC swapped,
    a register misread): the processor starts counting afresh from the new value."""


# ── the resolved plan ────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Material:
    name: str
    lots: tuple[str, ...]
    per_unit: float
    uom: str | None
    change_every_ns: int

    def lot_at(self, ts_ns: int) -> str:
        """The lot in use at ``ts_ns``: the lots take turns, each ``change_every_h``, counted
        from the epoch, so the answer depends on the time alone (restarts and replays agree)."""
        return self.lots[(ts_ns // self.change_every_ns) % len(self.lots)]


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    party: str
    location: str | None
    order: str | None
    gln: str  # the party's 13-digit GLN, for business transaction URNs


@dataclass(frozen=True, slots=True)
class LinePlan:
    """Everything one line's events need, identifiers built and checked."""

    line: str
    code: str
    company_prefix: str
    item_reference: str
    unit_tag: str  # the unit counter's tag path
    packer_tag: str | None  # the packer counter's tag path, if cases follow it
    lot_size: int
    materials: tuple[Material, ...]
    case_size: int
    cases_per_shipment: int
    sscc_extension: int
    customers: tuple[Customer, ...]
    plant: str  # SGLN of the plant: the business location of production events
    owner: str  # PGLN of the plant's company: the source party of shipments
    site_gln: str  # the plant's 13-digit GLN, for despatch advice URNs
    unit_point: str  # SGLN read points: the unit counter's equipment, the packer, the dock
    packer_point: str
    dock_point: str
    max_units_per_sample: int

    @property
    def sscc_serial_digits(self) -> int:
        return 16 - len(self.company_prefix)


def _equipment_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _sgln(prefix: str, location: str, extension: str) -> str:
    return EpcUrn("id", "sgln", prefix, location, extension).uri


def _customer(spec: CustomerSpec) -> Customer:
    party = parse_urn(spec.party)
    gln = urn_to_digital_link(party).key
    return Customer(spec.name, party.uri, spec.location, spec.order, gln)


def _material(spec: MaterialSpec) -> Material:
    every = round(spec.change_every_h * 3600e9)
    return Material(spec.name, tuple(spec.lots), spec.per_unit, spec.uom, every)


def _plan(section: TraceSection, name: str, line: LineSpec) -> LinePlan:
    prefix, location = section.company_prefix, section.location_reference
    chosen = line.shipping.customers
    customers = tuple(_customer(c) for c in section.customers if chosen is None or c.name in chosen)
    owner = EpcUrn("id", "pgln", prefix, location)
    packer_tag = line.packing.counter
    return LinePlan(
        line=name,
        code=line.code,
        company_prefix=prefix,
        item_reference=line.item_reference,
        unit_tag=tag_path(line.unit.equipment, line.unit.counter),
        packer_tag=None if packer_tag is None else tag_path(line.packing.equipment, packer_tag),
        lot_size=line.lot_size,
        materials=tuple(_material(m) for m in line.materials),
        case_size=line.packing.case_size,
        cases_per_shipment=line.shipping.cases,
        sscc_extension=line.sscc_extension,
        customers=customers,
        plant=_sgln(prefix, location, "0"),
        owner=owner.uri,
        site_gln=urn_to_digital_link(owner).key,
        unit_point=_sgln(prefix, location, _equipment_name(line.unit.equipment)),
        packer_point=_sgln(prefix, location, _equipment_name(line.packing.equipment)),
        dock_point=_sgln(prefix, location, line.shipping.dock),
        max_units_per_sample=section.max_units_per_sample,
    )


def plans(section: TraceSection) -> tuple[LinePlan, ...]:
    """Every line's plan (the section must have passed :func:`load_section`'s checks)."""
    return tuple(_plan(section, name, line) for name, line in section.lines.items())


# ── checks against the site ──────────────────────────────────────────────────────────


def _urn_problem(text: str, scheme: str, kind: str = "id") -> str | None:
    try:
        urn = parse_urn(text)
    except IdentifierError as exc:
        return str(exc)
    if urn.scheme != scheme or urn.kind != kind:
        return f"{text!r}: expected a urn:epc:{kind}:{scheme}:… identifier"
    return None


def _key_problems(section: TraceSection) -> list[tuple[Path_, str]]:
    found: list[tuple[Path_, str]] = []
    prefix = section.company_prefix
    if len(prefix) + len(section.location_reference) != 12:
        want = f"{12 - len(prefix)} digits after a {len(prefix)}-digit company prefix"
        found.append((("location_reference",), f"must be {want}"))
    if 16 - len(prefix) < MIN_SSCC_SERIAL_DIGITS:
        why = "SSCCs numbered by time need a company prefix of at most 8 digits"
        found.append((("company_prefix",), why))
    for i, customer in enumerate(section.customers):
        found += [
            (("customers", i, field), problem)
            for field, text, scheme in (
                ("party", customer.party, "pgln"),
                ("location", customer.location, "sgln"),
            )
            if text is not None and (problem := _urn_problem(text, scheme))
        ]
    names = [c.name for c in section.customers]
    if len(set(names)) != len(names):
        found.append((("customers",), "a customer name is given twice"))
    return found


def _counter_problem(
    equipment: set[str], tags: set[str], path: str, counter: str | None
) -> tuple[str, str] | None:
    """(field, problem) of an equipment and its counter tag, or None."""
    if path not in equipment:
        return "equipment", f"no equipment {path!r} in the site"
    if len(_equipment_name(path)) > 20:
        return "equipment", "its name is over 20 characters: too long for a GLN extension"
    if counter is not None and tag_path(path, counter) not in tags:
        return "counter", f"no tag {tag_path(path, counter)!r} in the site"
    return None


def _line_problems(
    section: TraceSection, name: str, line: LineSpec, equipment: set[str], tags: set[str]
) -> list[tuple[Path_, str]]:
    base: Path_ = ("lines", name)
    found: list[tuple[Path_, str]] = []
    if not is_segment(name):
        found.append((base, "a line name is lower case letters, digits, '_' and '-'"))
    if len(section.company_prefix) + len(line.item_reference) != 13:
        want = 13 - len(section.company_prefix)
        found.append(((*base, "item_reference"), f"must be {want} digits (indicator digit first)"))
    parts = (
        ("unit", line.unit.equipment, line.unit.counter),
        ("packing", line.packing.equipment, line.packing.counter),
    )
    for part, path, counter in parts:
        wrong = _counter_problem(equipment, tags, path, counter)
        if wrong is not None:
            found.append(((*base, part, wrong[0]), wrong[1]))
    found += [
        ((*base, "materials", m, "lots", k), problem)
        for m, material in enumerate(line.materials)
        for k, lot in enumerate(material.lots)
        if (problem := _urn_problem(lot, "lgtin", "class"))
    ]
    known = {c.name for c in section.customers}
    for k, customer in enumerate(line.shipping.customers or []):
        if customer not in known:
            found.append(((*base, "shipping", "customers", k), f"no customer {customer!r}"))
    return found


def _unique(section: TraceSection) -> list[tuple[Path_, str]]:
    found: list[tuple[Path_, str]] = []
    seen: dict[tuple[str, object], str] = {}
    for name, line in section.lines.items():
        for field, value in (("code", line.code), ("sscc_extension", line.sscc_extension)):
            other = seen.setdefault((field, value), name)
            if other != name:
                found.append((("lines", name, field), f"line {other!r} has it too"))
    return found


def _problems(section: TraceSection, site: SiteFile) -> list[tuple[Path_, str]]:
    found = _key_problems(section) + _unique(section)
    equipment = {ref.path for ref in site.equipment()}
    tags = {ref.path for ref in site.tags()}
    for name, line in section.lines.items():
        found += _line_problems(section, name, line, equipment, tags)
    if not found:  # the keys are well formed: building them finds what is left (lengths …)
        found += _build_problems(section)
    return found


def _build_problems(section: TraceSection) -> list[tuple[Path_, str]]:
    for name, line in section.lines.items():
        try:
            plan = _plan(section, name, line)
            EpcUrn("class", "lgtin", plan.company_prefix, plan.item_reference, "X")
        except IdentifierError as exc:
            return [(("lines", name), str(exc))]
    return []


def load_section(apps: AppsFile, site: SiteFile) -> TraceSection | None:
    """The ``trace:`` section checked against ``site``; None when the file has none."""
    return apps.checked_section(SECTION, TraceSection, lambda s: _problems(s, site))


__all__ = [
    "Customer",
    "CustomerSpec",
    "LinePlan",
    "LineSpec",
    "Material",
    "MaterialSpec",
    "TraceSection",
    "load_section",
    "plans",
]
