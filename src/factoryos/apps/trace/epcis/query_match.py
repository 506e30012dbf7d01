"""Checks of EPCIS query parameters on one event's JSON (pure: no I/O).

Each check is built by :mod:`.query_params` from one parameter (sensor-data parameters
together, as they must hold on one sensor report) and answers whether an event meets it.
Values are compared as numbers when both sides are numbers, as instants when the query gave
a date-time, and as text otherwise; a field that is absent never matches (except that no
check is made for it at all).
"""

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from factoryos.apps.trace.epcis.capture import QUANTITY_LISTS, identifiers, time_ns
from factoryos.apps.trace.errors import IdentifierError
from factoryos.apps.trace.identifiers import matches_any_spelling

Scalar = float | str | bool | tuple[str, int]  # ("time", ns) for a date-time
Event = Mapping[str, Any]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq, "GT": operator.gt, "GE": operator.ge,
    "LT": operator.lt, "LE": operator.le,
}  # fmt: skip
_TYPE_PREFIXES = (
    "urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-",
    "urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
    "urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-",
    "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-",
    "gs1:", "https://gs1.org/voc/",
)  # fmt: skip
_LIST_KEYS = {
    "bizTransaction": ("bizTransactionList", "bizTransaction"),
    "source": ("sourceList", "source"),
    "destination": ("destinationList", "destination"),
}


class Check(Protocol):
    @property
    def name(self) -> str: ...  # the parameter, for messages

    def __call__(self, event: Event) -> bool: ...


def bare(value: Any) -> Any:
    """A CBV value without its URN or web-URI prefix; JSON-LD ``{"@value": …}`` unwrapped."""
    if isinstance(value, Mapping) and "@value" in value:
        value = value["@value"]
    if isinstance(value, str):
        for prefix in _TYPE_PREFIXES:
            if value.startswith(prefix):
                return value[len(prefix) :]
    return value


def _comparable(found: Any, wanted: Scalar) -> tuple[Any, Any] | None:
    """(found, wanted) in one kind, or None when they cannot be compared."""
    found = bare(found)
    if isinstance(wanted, tuple):
        try:
            return (time_ns(found), wanted[1]) if isinstance(found, str) else None
        except (ValueError, TypeError):  # not a date-time, or one without a zone
            return None
    if isinstance(wanted, bool) or isinstance(found, bool):
        return (found, wanted) if type(found) is type(wanted) else None
    if isinstance(wanted, float):
        if isinstance(found, int | float):
            return float(found), wanted
        try:
            return float(found), wanted
        except (TypeError, ValueError):
            return None
    return (found, wanted) if isinstance(found, str) else None


def compare(op: str, found: Any, values: tuple[Scalar, ...]) -> bool:
    """Does ``found`` (one value or a list of them) meet ``op`` against one of ``values``?"""
    items = found if isinstance(found, list) else [found]
    for item in items:
        for wanted in values:
            pair = _comparable(item, wanted)
            if pair is not None and _COMPARE[op](*pair):
                return True
    return False


@dataclass(frozen=True)
class _Predicate:
    name: str
    test: Callable[[Event], bool]

    def __call__(self, event: Event) -> bool:
        return self.test(event)


def check_identifiers(name: str, roles: tuple[str, ...], patterns: tuple[str, ...]) -> Check:
    def test(event: Event) -> bool:
        for role, epc in identifiers(event):
            if role in roles and any(_matches(p, epc) for p in patterns):
                return True
        return False

    return _Predicate(name, test)


def _matches(pattern: str, epc: str) -> bool:
    try:
        return matches_any_spelling(pattern, epc)
    except IdentifierError:  # a stored identifier that is not a well-formed EPC
        return False


def check_transformation(name: str, ids: tuple[str, ...]) -> Check:
    return _Predicate(name, lambda event: event.get("transformationID") in ids)


def check_persistent(name: str, which: str, values: tuple[str, ...]) -> Check:
    def test(event: Event) -> bool:
        held = (event.get("persistentDisposition") or {}).get(which) or []
        return any(bare(v) in values for v in held)

    return _Predicate(name, test)


def check_error_declaration(
    name: str,
    since: int | None = None,
    before: int | None = None,
    reasons: tuple[str, ...] | None = None,
    corrective: tuple[str, ...] | None = None,
) -> Check:
    def test(event: Event) -> bool:
        declaration = event.get("errorDeclaration")
        if not isinstance(declaration, Mapping):
            return False
        at = time_ns(declaration["declarationTime"])
        if (since is not None and at < since) or (before is not None and at >= before):
            return False
        if reasons is not None and bare(declaration.get("reason")) not in map(bare, reasons):
            return False
        ids = declaration.get("correctiveEventIDs") or []
        return corrective is None or any(i in corrective for i in ids)

    return _Predicate(name, test)


def check_quantity(name: str, op: str, numbers: tuple[float, ...], uom: str | None) -> Check:
    def test(event: Event) -> bool:
        for key in QUANTITY_LISTS:
            for element in event.get(key) or []:
                if "quantity" not in element or (uom is not None and element.get("uom") != uom):
                    continue
                if compare(op, element["quantity"], numbers):
                    return True
        return False

    return _Predicate(name, test)


def check_list_entries(name: str, kind: str, type_: str, values: tuple[str, ...]) -> Check:
    list_key, value_key = _LIST_KEYS[kind]

    def test(event: Event) -> bool:
        for entry in event.get(list_key) or []:
            if bare(entry.get("type")) == type_ and entry.get(value_key) in values:
                return True
        return False

    return _Predicate(name, test)


def _inner(node: Any, field: str) -> Iterator[Any]:
    """Values of ``field`` anywhere inside ``node`` (extension elements nest freely)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == field:
                yield value
            yield from _inner(value, field)
    elif isinstance(node, list):
        for item in node:
            yield from _inner(item, field)


def _extensions(node: Any) -> list[Any]:
    """The extension elements of a JSON object: its keys written as ``prefix:name``."""
    if not isinstance(node, Mapping):
        return []
    return [value for key, value in node.items() if ":" in key and not key.startswith("@")]


def _sensor_nodes(event: Event, scope: str) -> Iterator[Any]:
    for element in event.get("sensorElementList") or []:
        if scope == "SENSORELEMENT":
            yield element
        elif scope == "SENSORMETADATA":
            yield element.get("sensorMetadata") or {}
        else:
            yield from element.get("sensorReport") or []


def _containers(event: Event, scope: str) -> Iterator[Any]:
    """The objects whose ``field`` a scoped parameter (ILMD_, INNER_ …) reads."""
    if scope.startswith("SENSOR"):
        yield from _sensor_nodes(event, scope)
        return
    inner = scope.startswith("INNER")
    base = scope.removeprefix("INNER").strip("_")
    top = {
        "": event,
        "ILMD": event.get("ilmd"),
        "ERROR_DECLARATION": event.get("errorDeclaration"),
    }[base]
    yield from (_extensions(top) if inner else [top])


@dataclass(frozen=True)
class FieldCheck:
    """EQ_/GT_/GE_/LT_/LE_/EXISTS_ on an extension field (``prefix:name``), at the event's
    top level, in its ILMD or error declaration, nested (INNER_), or in sensor data."""

    name: str
    op: str
    scope: str
    field: str
    values: tuple[Scalar, ...]

    def __call__(self, event: Event) -> bool:
        for container in _containers(event, self.scope):
            if self.scope.startswith("INNER"):
                found = list(_inner(container, self.field))
            elif isinstance(container, Mapping) and self.field in container:
                found = [container[self.field]]
            else:
                found = []
            if self.op == "EXISTS" and found:
                return True
            if any(compare(self.op, value, self.values) for value in found):
                return True
        return False


def _report_meets(report: Mapping[str, Any], key: str, rule: tuple[Any, ...]) -> bool:
    field, op, values = key.split(":", 1)[0], rule[0], rule[1]
    if len(rule) == 3 and report.get("uom") != rule[2]:
        return False
    if field not in report:
        return False
    found = report[field]
    if field in ("time", "startTime", "endTime"):
        return compare(op, found, tuple(("time", v) for v in values))
    if field == "type":
        found = bare(found)
    return compare(op, found, tuple(values))


@dataclass(frozen=True)
class SensorCheck:
    """All sensor-data parameters, held together by one report of one sensor element (the
    report sees its element's metadata: time, device and method are inherited)."""

    name: str
    rules: dict[str, tuple[Any, ...]]

    def __call__(self, event: Event) -> bool:
        elements = event.get("sensorElementList") or []
        rules = {k: r for k, r in self.rules.items() if k != "exists"}
        for element in elements:
            metadata = element.get("sensorMetadata") or {}
            for report in element.get("sensorReport") or [{}]:
                merged = {**metadata, **report}
                if all(_report_meets(merged, key, rule) for key, rule in rules.items()):
                    return True
        return False


__all__ = [
    "Check",
    "FieldCheck",
    "Scalar",
    "SensorCheck",
    "bare",
    "check_error_declaration",
    "check_identifiers",
    "check_list_entries",
    "check_persistent",
    "check_quantity",
    "check_transformation",
    "compare",
]
