"""The EPCIS 2.0 query language (SimpleEventQuery, standard section 8.2.7.1) as REST query
parameters: parsed into what the store's columns answer (:class:`EventFilter`) and checks on
each event's JSON for the rest.

Values are pipe-delimited lists (``eventType=ObjectEvent|AggregationEvent``), as the
standard's OpenAPI declares; a parameter given twice is one list. Every parameter name the
standard defines is understood or refused by name: an unknown or unsupported one raises
:class:`QueryParameterError` (the standard's ``QueryParameterException``), never ignored.
The matching itself is in :mod:`.query_match`.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from factoryos.apps.trace.epcis.capture import BUSINESS_LOCATION, READ_POINT, time_ns
from factoryos.apps.trace.epcis.query_match import (
    Check,
    FieldCheck,
    Scalar,
    SensorCheck,
    check_error_declaration,
    check_identifiers,
    check_list_entries,
    check_persistent,
    check_quantity,
    check_transformation,
)
from factoryos.apps.trace.errors import IdentifierError, TraceError
from factoryos.apps.trace.identifiers import (
    CANONICAL_BASE,
    canonical_digital_link,
    parse_urn,
    urn_spellings,
)
from factoryos.store.epcis_query import EventFilter, IdentifierFilter, OrderKey

MAX_VALUES = 100  # values of one parameter
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 30  # the standard's default
EVENT_TYPES = (
    "ObjectEvent", "AggregationEvent", "TransactionEvent",
    "TransformationEvent", "AssociationEvent",
)  # fmt: skip
ACTIONS = ("ADD", "OBSERVE", "DELETE")
ORDER_KEYS: dict[str, OrderKey] = {"eventTime": "eventTime", "recordTime": "recordTime"}
# MATCH_ parameter → roles (store/epcis_events.ROLES) an identifier may have in the event
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_epcClass": ("class", "child_class"),
    "MATCH_inputEPCClass": ("input_class",),
    "MATCH_outputEPCClass": ("output_class",),
    "MATCH_anyEPCClass": ("class", "child_class", "input_class", "output_class"),
}
# CBV 2.0 values are bare words in JSON; 1.x URNs and web URIs name the same values.
_CBV_FORMS = {
    "bizStep": ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    "disposition": ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    "sensor": ("gs1:", "https://gs1.org/voc/"),
}
_OPS = ("EQ", "GT", "GE", "LT", "LE")
_FIELD = r"[A-Za-z][A-Za-z0-9]*:[A-Za-z0-9_.\-]+"  # an extension field as prefix:localName
_FIELD_PARAM = re.compile(
    rf"(?P<op>EQ|GT|GE|LT|LE|EXISTS)_(?P<scope>(?:INNER_)?(?:ILMD_|ERROR_DECLARATION_)?"
    rf"|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_)(?P<name>{_FIELD})"
)
_SENSOR_VALUE = re.compile(
    r"(?P<op>EQ|GT|GE|LT|LE)_(?P<field>value|minValue|maxValue|meanValue|sDev|percValue)"
    r"_(?P<uom>[A-Za-z0-9]{1,3})"
)
_QUANTITY = re.compile(r"(?P<op>EQ|GT|GE|LT|LE)_quantity(?:_(?P<uom>[A-Za-z0-9]{1,3}))?")
_LIST_ENTRY = re.compile(r"EQ_(?P<list>bizTransaction|source|destination)_(?P<type>\w+)")
_ATTRIBUTE = re.compile(r"(?P<kind>HASATTR|EQATTR)_(?P<field>[A-Za-z]+)(?:_(?P<attribute>.+))?")
# location field → (EventFilter field, master-data vocabulary of its hierarchy)
_LOCATIONS = {
    "readPoint": ("read_points", READ_POINT),
    "bizLocation": ("biz_locations", BUSINESS_LOCATION),
}


class QueryParameterError(TraceError, ValueError):
    """A query parameter the standard does not define, or a value it cannot have."""

    def __init__(self, name: str, message: str) -> None:
        self.parameter = name
        super().__init__(f"query parameter {name}: {message}")


class QueryTooLargeError(TraceError):
    """More events match than ``maxEventCount`` allows (QueryTooLargeException)."""


@dataclass(frozen=True)
class LocationFilter:
    """A location parameter that needs the tenant's master data: ``WD_`` (the ``values`` and
    every location below them), ``HASATTR_`` (locations with an attribute named in
    ``values``) or ``EQATTR_`` (locations whose ``attribute`` is one of ``values``)."""

    name: str  # the parameter, for errors
    key: str  # the EventFilter field it narrows
    vocabulary: str
    kind: str  # "WD", "HASATTR" or "EQATTR"
    values: tuple[str, ...]
    attribute: str | None = None


@dataclass(frozen=True)
class EventQuery:
    filter: EventFilter
    checks: tuple[Check, ...] = ()
    order_by: OrderKey = "eventTime"
    descending: bool = True  # the standard's default direction
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int = DEFAULT_PER_PAGE
    page_token: str | None = None
    canonical: str = ""  # the parameters as one text: a page token belongs to one query
    # resolved against the tenant's master data when the query runs (query.run_query)
    locations: tuple["LocationFilter", ...] = ()


@dataclass
class _Options:
    order_by: OrderKey = "eventTime"
    descending: bool = True  # the standard's default direction
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int = DEFAULT_PER_PAGE
    page_token: str | None = None


@dataclass
class _Parts:
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # EventFilter field
    times: dict[str, int] = field(default_factory=dict)  # GE_eventTime … → ns
    identifiers: list[IdentifierFilter] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    sensor: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    options: _Options = field(default_factory=_Options)
    locations: list["LocationFilter"] = field(default_factory=list)


def _values(name: str, raw: Sequence[str]) -> list[str]:
    out = [v for text in raw for v in text.split("|") if v != ""]
    if not out:
        raise QueryParameterError(name, "needs a value")
    if len(out) > MAX_VALUES:
        raise QueryParameterError(name, f"{len(out)} values, at most {MAX_VALUES}")
    return out


def _one(name: str, raw: Sequence[str]) -> str:
    values = _values(name, raw)
    if len(values) != 1:
        raise QueryParameterError(name, f"takes one value, not {len(values)}")
    return values[0]


def _time(name: str, raw: Sequence[str]) -> int:
    text = _one(name, raw)
    try:
        ns = time_ns(text)
    except (ValueError, TypeError) as exc:
        raise QueryParameterError(name, f"{text!r} is not a date-time: {exc}") from exc
    if "T" not in text or not re.search(r"(Z|[+-]\d\d:?\d\d)$", text):
        raise QueryParameterError(name, f"{text!r}: needs a time of day and a zone (Z or ±hh:mm)")
    return ns


def _int(name: str, raw: Sequence[str], low: int, high: int) -> int:
    text = _one(name, raw)
    try:
        value = int(text)
    except ValueError as exc:
        raise QueryParameterError(name, f"{text!r} is not an integer") from exc
    if not low <= value <= high:
        raise QueryParameterError(name, f"{value} is not between {low} and {high}")
    return value


def scalar(name: str, text: str) -> Scalar:
    """A comparison value: a number, a date-time (as ns) or text."""
    try:
        return float(text)
    except ValueError:
        pass
    if re.match(r"\d{4}-\d\d-\d\dT", text):
        return ("time", _time(name, [text]))
    return text


def _number(name: str, raw: Sequence[str]) -> float:
    value = scalar(name, _one(name, raw))
    if not isinstance(value, float):
        raise QueryParameterError(name, f"{raw[0]!r} is not a number")
    return value


def _boolean(name: str, raw: Sequence[str]) -> bool:
    text = _one(name, raw).lower()
    if text not in ("true", "false", "1", "0"):
        raise QueryParameterError(name, f"{text!r}: true or false")
    return text in ("true", "1")


def cbv(kind: str, value: str) -> str:
    """A CBV value in its EPCIS 2.0 JSON form (bare word), whatever form it was given in."""
    for prefix in _CBV_FORMS[kind]:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _cbv_spellings(kind: str, values: list[str]) -> tuple[str, ...]:
    bare = [cbv(kind, v) for v in values]
    spelled = [p + b for b in bare for p in _CBV_FORMS[kind]]
    return tuple(dict.fromkeys(bare + spelled))


def _identifier_filter(name: str, values: list[str]) -> IdentifierFilter:
    """Exact spellings and prefixes that find every event a MATCH_ value can match."""
    exact: list[str] = []
    prefixes: list[str] = []
    for value in values:
        if value.startswith("urn:epc:idpat:"):
            try:
                urn = parse_urn(value)
            except IdentifierError as exc:
                raise QueryParameterError(name, str(exc)) from exc
            fixed = value.split("*", 1)[0].replace("urn:epc:idpat:", "urn:epc:id:", 1)
            prefixes.append(fixed)
            if urn.scheme == "sgtin":
                prefixes.append(fixed.replace("urn:epc:id:sgtin:", "urn:epc:class:lgtin:", 1))
            link = canonical_digital_link(value)
            prefixes.append(f"{link}/" if link else f"{CANONICAL_BASE}/")
            continue
        exact.append(value)
        link = canonical_digital_link(value)
        if link is not None:
            exact += [link, *urn_spellings(link)]
    return IdentifierFilter(MATCH_ROLES[name], tuple(dict.fromkeys(exact)), tuple(prefixes))


def _simple(parts: _Parts, name: str, raw: Sequence[str]) -> bool:
    """Parameters with fixed names; False if ``name`` is not one of them."""
    if name == "eventType":
        parts.columns["event_types"] = tuple(_values(name, raw))
    elif name in ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime"):
        parts.times[name] = _time(name, raw)
    elif name == "EQ_action":
        actions = _values(name, raw)
        bad = [a for a in actions if a not in ACTIONS]
        if bad:
            raise QueryParameterError(name, f"{bad[0]!r} is not one of {', '.join(ACTIONS)}")
        parts.columns["actions"] = tuple(actions)
    elif name in ("EQ_bizStep", "EQ_disposition"):
        kind = name[3:]
        key = "biz_steps" if kind == "bizStep" else "dispositions"
        parts.columns[key] = _cbv_spellings(kind, _values(name, raw))
    elif name in ("EQ_readPoint", "EQ_bizLocation"):
        key, _ = _LOCATIONS[name[3:]]
        parts.columns[key] = tuple(_values(name, raw))
    elif name in ("WD_readPoint", "WD_bizLocation"):
        key, vocabulary = _LOCATIONS[name[3:]]
        roots = tuple(_values(name, raw))
        parts.locations.append(LocationFilter(name, key, vocabulary, "WD", roots))
    elif name == "EQ_eventID":
        parts.columns["event_ids"] = tuple(_values(name, raw))
    elif name in MATCH_ROLES:
        values = _values(name, raw)
        parts.identifiers.append(_identifier_filter(name, values))
        parts.checks.append(check_identifiers(name, MATCH_ROLES[name], tuple(values)))
    else:
        return False
    return True


def _attributes(parts: _Parts, name: str, raw: Sequence[str]) -> bool:
    """HASATTR_ and EQATTR_ on a location field; False if ``name`` is not one of them."""
    found = _ATTRIBUTE.fullmatch(name)
    if found is None:
        return False
    kind, where, attribute = found["kind"], found["field"], found["attribute"]
    if where not in _LOCATIONS:
        raise QueryParameterError(name, "master-data attributes are queried on readPoint and "
                                  "bizLocation only")  # fmt: skip
    if (kind == "EQATTR") != (attribute is not None):
        form = "EQATTR_{field}_{attribute}" if kind == "EQATTR" else "HASATTR_{field}"
        raise QueryParameterError(name, f"takes the form {form}")
    key, vocabulary = _LOCATIONS[where]
    values = tuple(_values(name, raw))
    parts.locations.append(LocationFilter(name, key, vocabulary, kind, values, attribute))
    return True


def _event_fields(parts: _Parts, name: str, raw: Sequence[str]) -> bool:
    """Parameters checked on the event's JSON; False if ``name`` is not one of them."""
    if name == "EQ_transformationID":
        parts.checks.append(check_transformation(name, tuple(_values(name, raw))))
    elif name in ("EQ_persistentDisposition_set", "EQ_persistentDisposition_unset"):
        which = name.rsplit("_", 1)[1]
        values = tuple(cbv("disposition", v) for v in _values(name, raw))
        parts.checks.append(check_persistent(name, which, values))
    elif name == "EXISTS_errorDeclaration":
        if _boolean(name, raw):
            parts.checks.append(check_error_declaration(name))
    elif name in ("GE_errorDeclarationTime", "GE_errorDeclaration_Time"):
        parts.checks.append(check_error_declaration(name, since=_time(name, raw)))
    elif name in ("LT_errorDeclarationTime", "LT_errorDeclaration_Time"):
        parts.checks.append(check_error_declaration(name, before=_time(name, raw)))
    elif name == "EQ_errorReason":
        reasons = tuple(_values(name, raw))
        parts.checks.append(check_error_declaration(name, reasons=reasons))
    elif name == "EQ_correctiveEventID":
        ids = tuple(_values(name, raw))
        parts.checks.append(check_error_declaration(name, corrective=ids))
    elif m := _QUANTITY.fullmatch(name):
        op, uom = m["op"], m["uom"]
        given = _values(name, raw) if op == "EQ" else [_one(name, raw)]
        numbers = tuple(_number(name, [v]) for v in given)
        parts.checks.append(check_quantity(name, op, numbers, uom))
    elif m := _LIST_ENTRY.fullmatch(name):
        entries = tuple(_values(name, raw))
        parts.checks.append(check_list_entries(name, m["list"], m["type"], entries))
    elif m := _FIELD_PARAM.fullmatch(name):
        op, scope, field_name = m["op"], m["scope"], m["name"]
        wanted: tuple[Scalar, ...] = ()
        if op == "EQ":
            wanted = tuple(scalar(name, v) for v in _values(name, raw))
        elif op != "EXISTS":
            wanted = (scalar(name, _one(name, raw)),)
        parts.checks.append(FieldCheck(name, op, scope.rstrip("_"), field_name, wanted))
    else:
        return False
    return True


_SENSOR_LISTS = {
    "EQ_type": "type", "EQ_deviceID": "deviceID",
    "EQ_dataProcessingMethod": "dataProcessingMethod", "EQ_microorganism": "microorganism",
    "EQ_chemicalSubstance": "chemicalSubstance", "EQ_bizRules": "bizRules",
    "EQ_stringValue": "stringValue", "EQ_hexBinaryValue": "hexBinaryValue",
    "EQ_uriValue": "uriValue",
}  # fmt: skip
_SENSOR_TIMES = {
    "GE_time": ("time", "GE"), "LT_time": ("time", "LT"),
    "GE_startTime": ("startTime", "GE"), "LT_startTime": ("startTime", "LT"),
    "GE_endTime": ("endTime", "GE"), "LT_endTime": ("endTime", "LT"),
}  # fmt: skip


def _sensor(parts: _Parts, name: str, raw: Sequence[str]) -> bool:
    """Sensor-data parameters: all of them must hold on one sensor report (with its
    element's metadata); False if ``name`` is not one of them."""
    s = parts.sensor
    if name in _SENSOR_LISTS:
        listed = _values(name, raw)
        if name == "EQ_type":
            listed = [cbv("sensor", v) for v in listed]
        s[_SENSOR_LISTS[name]] = ("EQ", tuple(listed))
    elif name == "EQ_booleanValue":
        s["booleanValue"] = ("EQ", (_boolean(name, raw),))
    elif name in _SENSOR_TIMES:
        key, op = _SENSOR_TIMES[name]
        s[f"{key}:{op}"] = (op, (_time(name, raw),))
    elif name in ("GT_percRank", "GE_percRank", "LT_percRank", "LE_percRank"):
        s[f"percRank:{name[:2]}"] = (name[:2], (_number(name, raw),))
    elif m := _SENSOR_VALUE.fullmatch(name):
        s[f"{m['field']}:{m['op']}:{m['uom']}"] = (m["op"], (_number(name, raw),), m["uom"])
    elif name == "EXISTS_sensorElementList":
        if _boolean(name, raw):
            s["exists"] = ("EXISTS", ())
    else:
        return False
    return True


def _options(parts: _Parts, name: str, raw: Sequence[str]) -> bool:
    o = parts.options
    if name == "orderBy":
        key = _one(name, raw)
        if key not in ORDER_KEYS:
            raise QueryParameterError(name, f"{key!r}: FactoryOS orders by eventTime or recordTime")
        o.order_by = ORDER_KEYS[key]
    elif name == "orderDirection":
        direction = _one(name, raw)
        if direction not in ("ASC", "DESC"):
            raise QueryParameterError(name, f"{direction!r}: ASC or DESC")
        o.descending = direction == "DESC"
    elif name == "eventCountLimit":
        o.event_count_limit = _int(name, raw, 1, 1_000_000)
    elif name == "maxEventCount":
        o.max_event_count = _int(name, raw, 1, 1_000_000)
    elif name == "perPage":
        o.per_page = _int(name, raw, 1, MAX_PER_PAGE)
    elif name == "nextPageToken":
        o.page_token = _one(name, raw)
    else:
        return False
    return True


def _canonical(params: Mapping[str, Sequence[str]]) -> str:
    kept = sorted((k, "|".join(v)) for k, v in params.items() if k not in ("nextPageToken",))
    return "&".join(f"{k}={v}" for k, v in kept)


def _filter(parts: _Parts) -> EventFilter:
    t = parts.times
    return EventFilter(
        event_time=(t.get("GE_eventTime"), t.get("LT_eventTime")),
        record_time=(t.get("GE_recordTime"), t.get("LT_recordTime")),
        identifiers=tuple(parts.identifiers),
        **parts.columns,  # keys are EventFilter's tuple fields
    )


def parse_query(params: Mapping[str, Sequence[str]]) -> EventQuery:
    """The query that ``params`` (name → raw values, as a URL query string gives them) ask."""
    parts = _Parts()
    handlers = (_simple, _attributes, _event_fields, _sensor, _options)
    for name, raw in params.items():
        if not any(handler(parts, name, raw) for handler in handlers):
            raise QueryParameterError(name, "not a parameter of the EPCIS 2.0 query language")
    o = parts.options
    if o.event_count_limit is not None and o.max_event_count is not None:
        raise QueryParameterError("maxEventCount", "cannot be combined with eventCountLimit")
    checks = list(parts.checks)
    if parts.sensor:
        checks.append(SensorCheck("sensor data", dict(parts.sensor)))
    return EventQuery(
        filter=_filter(parts),
        checks=tuple(checks),
        order_by=o.order_by,
        descending=o.descending,
        event_count_limit=o.event_count_limit,
        max_event_count=o.max_event_count,
        per_page=o.per_page,
        page_token=o.page_token,
        canonical=_canonical(params),
        locations=tuple(parts.locations),
    )


__all__ = [
    "EventQuery",
    "LocationFilter",
    "QueryParameterError",
    "QueryTooLargeError",
    "cbv",
    "parse_query",
    "scalar",
]
