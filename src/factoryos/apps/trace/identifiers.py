"""GS1 identifiers for traceability: check digits, GS1 Digital Link URIs and EPC URNs.

Pure functions over frozen dataclasses; nothing here does I/O. Every failure raises
:class:`~factoryos.apps.trace.errors.IdentifierError` naming the identifier and the fault,
e.g. ``GTIN 09506000134353: check digit 3 should be 2``.

Standards relied on (looked up, not guessed):

- GS1 General Specifications, "GS1 check digit calculation" (mod 10, weights 3 and 1
  alternating from the rightmost digit of the body) and figure 7.11-1 "GS1 AI encodable
  character set 82": ``!"%&'()*+,-./0-9:;<=>?A-Z_a-z``; cross-checked against GS1's
  reference linter (github gs1/gs1-syntax-dictionary, ``src/lint_cset82.c``).
- GS1 Barcode Syntax Dictionary (gs1/gs1-syntax-dictionary, ``gs1-syntax-dictionary.txt``)
  for AI formats and Digital Link primary keys: 00 SSCC N18+csum; 01 GTIN N14+csum, key
  qualifiers 22,10,21 in that order; 10 lot X..20; 21 serial X..20; 22 CPV X..20;
  253 GDTI N13+csum [X..17]; 254 GLN extension X..20; 414 GLN N13+csum, qualifier 254;
  417 party GLN N13+csum; 8003 GRAI "0" N13+csum [X..16]; 8004 GIAI X..30;
  8017/8018 GSRN(P) N18+csum.
- GS1 Digital Link Standard: URI Syntax 1.2 (ratified Jan 2021) and GS1's reference parser
  (gs1/gs1-syntax-engine, ``src/c-lib/dl.c``): http or https, any domain and path prefix
  before the primary key, the key found as the last ``/AI/value`` pair run ending the path;
  values percent-decoded; when building, every character outside the RFC 3986 unreserved
  set ``A-Z a-z 0-9 - . _ ~`` is percent-encoded; zero-suppressed GTIN-8/12/13 in a path
  are padded to GTIN-14 (legacy form); canonical stem ``https://id.gs1.org``.
- EPC Tag Data Standard (TDS 1.13/2.0) pure-identity and pattern URIs: GS1 Company Prefix
  of 6 to 12 digits (TDT 2.0 partition tables, e.g. ref.gs1.org/standards/tdt/2.0.0/
  SGTIN-96.json); sgtin ``CP.IndicatorItemRef.Serial`` (13 digits), lgtin class
  ``CP.IndicatorItemRef.Lot``, sscc ``CP.ExtensionSerialRef`` (17), sgln
  ``CP.LocationRef.Extension`` (12; extension ``0`` means none), pgln ``CP.PartyRef`` (12),
  grai ``CP.AssetType.Serial`` (12), gdti ``CP.DocType.Serial`` (12), giai
  ``CP.AssetRef`` (at most 30 characters), gsrn/gsrnp ``CP.ServiceRef`` (17). Alphanumeric
  components use only ``A-Z a-z 0-9 ! ' ( ) * + , - . : ; = _`` literally and escape
  ``" % & / < > ?`` as ``%22 %25 %26 %2F %3C %3E %3F``. In an ``urn:epc:idpat:`` pattern a
  ``*`` may replace the last component, the last two, or all of them.
- EPCIS 2.0 section 8.2.7.1.1 (MATCH_epc, quoted in the EPCIS 2.0 OpenAPI of
  ../shared/datasets/epcis): a pure identity pattern matches as TDS defines; any other URI
  matches by string equality.
- Worked example from GS1's EPCIS author (github RalphTro/gs1-epc-digitallink-translator):
  ``urn:epc:id:sgtin:4012345.011111.987`` is ``https://id.gs1.org/01/04012345111118/21/987``.

The length of a GS1 Company Prefix cannot be read off a key: it comes from the GS1 prefix
allocation. Conversions from a Digital Link to an EPC URN therefore take it as the
``company_prefix_length`` parameter (default 7, the length used by every GS1 and EPCIS
example: 0614141, 4012345, 9506000).
"""

import re
import string
from dataclasses import dataclass
from typing import Literal

from factoryos.apps.trace.errors import IdentifierError

__all__ = [
    "CANONICAL_BASE",
    "CSET82",
    "DigitalLink",
    "EpcUrn",
    "UrnKind",
    "canonical_digital_link",
    "digital_link_to_urn",
    "format_digital_link",
    "format_urn",
    "gs1_check_digit",
    "has_valid_check_digit",
    "matches",
    "matches_any_spelling",
    "normalise_gtin",
    "parse_digital_link",
    "parse_urn",
    "urn_spellings",
    "urn_to_digital_link",
    "verify_gln",
    "verify_sscc",
]

CANONICAL_BASE = "https://id.gs1.org"
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?" + string.ascii_letters + "_")

UrnKind = Literal["id", "class", "idpat"]

_DIGITS = re.compile(r"[0-9]+")
_ASCII = frozenset(chr(code) for code in range(1, 128))
_URI_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_URI_PATH_LITERAL = _URI_UNRESERVED | frozenset("!$&'()*+,;=:@")
_URN_LITERAL = frozenset(string.ascii_letters + string.digits + "!'()*+,-.:;=_")
_URN_ESCAPED = frozenset('"%&/<>?')
_DIGITAL_LINK = re.compile(r"(?i:https?)://([^/?#]+)([^?#]*)(?:\?([^#]*))?(?:#.*)?", re.DOTALL)
_BASE = re.compile(r"(?i:https?)://[^/?#\s]+(?:/[^?#\s]*[^/?#\s])?")
_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.*)", re.DOTALL)
_KINDS: dict[str, UrnKind] = {"id": "id", "class": "class", "idpat": "idpat"}


# ── GS1 keys and check digits ─────────────────────────────────────────────────────────


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (the key without its check digit)."""
    if not _DIGITS.fullmatch(body):
        raise IdentifierError(f"{body!r}: a GS1 check digit is computed over digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return -total % 10


def has_valid_check_digit(key: str) -> bool:
    """Whether an all-digit GS1 key (GTIN, GLN, SSCC, GSRN …) ends in its check digit."""
    return (
        len(key) > 1 and bool(_DIGITS.fullmatch(key)) and gs1_check_digit(key[:-1]) == int(key[-1])
    )


def _verify_key(name: str, key: str, lengths: tuple[int, ...]) -> str:
    if not _DIGITS.fullmatch(key) or len(key) not in lengths:
        wanted = " or ".join(str(n) for n in lengths)
        raise IdentifierError(f"{name} {key!r}: expected {wanted} digits")
    expected = gs1_check_digit(key[:-1])
    if int(key[-1]) != expected:
        raise IdentifierError(f"{name} {key}: check digit {key[-1]} should be {expected}")
    return key


def normalise_gtin(gtin: str) -> str:
    """A GTIN-8, -12, -13 or -14 checked and returned as GTIN-14 (left-padded with zeros)."""
    return _verify_key("GTIN", gtin, (8, 12, 13, 14)).zfill(14)


def verify_gln(gln: str) -> str:
    """A 13-digit GLN, returned unchanged once its check digit is verified."""
    return _verify_key("GLN", gln, (13,))


def verify_sscc(sscc: str) -> str:
    """An 18-digit SSCC, returned unchanged once its check digit is verified."""
    return _verify_key("SSCC", sscc, (18,))


# ── Application Identifiers used by Digital Links ─────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _Ai:
    """An AI's format: optional fixed lead, fixed digits ending in a check digit, text."""

    name: str
    digits: int = 0  # fixed-length numeric part whose last digit is a check digit
    text_max: int = 0  # longest CSET 82 part after the digits (0: none allowed)
    lead: str = ""  # fixed leading characters (AI 8003 starts with "0")


_AIS = {
    "00": _Ai("SSCC", 18),
    "01": _Ai("GTIN", 14),
    "10": _Ai("lot", text_max=20),
    "21": _Ai("serial", text_max=20),
    "22": _Ai("CPV", text_max=20),
    "253": _Ai("GDTI", 13, 17),
    "254": _Ai("GLN extension", text_max=20),
    "414": _Ai("GLN", 13),
    "417": _Ai("party GLN", 13),
    "8003": _Ai("GRAI", 13, 16, lead="0"),
    "8004": _Ai("GIAI", text_max=30),
    "8017": _Ai("GSRNP", 18),
    "8018": _Ai("GSRN", 18),
}
_PRIMARY_KEYS = ("00", "01", "253", "414", "417", "8003", "8004", "8017", "8018")
_KEY_QUALIFIERS = {"01": ("22", "10", "21"), "414": ("254",)}


def _check_text(what: str, text: str, max_len: int) -> None:
    if len(text) > max_len:
        raise IdentifierError(f"{what}: {len(text)} characters, at most {max_len} allowed")
    bad = next((c for c in text if c not in CSET82), None)
    if bad is not None:
        raise IdentifierError(f"{what}: character {bad!r} is not in GS1 AI character set 82")


def _check_ai_value(ai: str, value: str) -> None:
    spec = _AIS[ai]
    if not value:
        raise IdentifierError(f"{spec.name} (AI {ai}) is empty")
    if not value.startswith(spec.lead):
        raise IdentifierError(f"{spec.name} {value!r}: must start with {spec.lead!r}")
    rest = value[len(spec.lead) :]
    if spec.digits:
        _verify_key(spec.name, rest[: spec.digits], (spec.digits,))
    _check_text(f"{spec.name} {value!r}", rest[spec.digits :], spec.text_max)


def _unescape(what: str, text: str, literal: frozenset[str], escapable: frozenset[str]) -> str:
    """Percent-decode ``text``, allowing only ``literal`` raw and ``escapable`` escaped."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%":
            hex_pair = text[i + 1 : i + 3]
            char = chr(int(hex_pair, 16)) if re.fullmatch(r"[0-9A-Fa-f]{2}", hex_pair) else ""
            if not char or char not in escapable:
                raise IdentifierError(f"{what}: bad escape {text[i : i + 3]!r} at position {i}")
            out.append(char)
            i += 3
        elif text[i] in literal:
            out.append(text[i])
            i += 1
        else:
            escape = f"%{ord(text[i]):02X}"
            raise IdentifierError(f"{what}: character {text[i]!r} at position {i} must be {escape}")
    return "".join(out)


# ── GS1 Digital Link ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A GS1 Digital Link: a primary key, its key qualifiers and query attributes.

    Values are decoded (no percent escapes). A GTIN key is always 14 digits here (use
    :func:`normalise_gtin`); ``base`` is scheme, domain and any path prefix, without a
    trailing slash. Construction validates everything and raises :class:`IdentifierError`.
    """

    key_ai: str
    key: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    base: str = CANONICAL_BASE

    def __post_init__(self) -> None:
        _check_digital_link(self)

    def qualifier(self, ai: str) -> str | None:
        """The value of key qualifier ``ai`` (``"21"``, ``"10"`` …), or None."""
        return next((value for key, value in self.qualifiers if key == ai), None)

    def attribute(self, name: str) -> str | None:
        """The first query attribute called ``name`` (``"17"`` expiry …), or None."""
        return next((value for key, value in self.attributes if key == name), None)

    @property
    def uri(self) -> str:
        """The URI, percent-encoded: see :func:`format_digital_link`."""
        return format_digital_link(self)


def _check_digital_link(link: DigitalLink) -> None:
    if not _BASE.fullmatch(link.base):
        raise IdentifierError(f"Digital Link base {link.base!r}: need http(s)://domain[/prefix]")
    if link.key_ai not in _PRIMARY_KEYS:
        raise IdentifierError(f"AI {link.key_ai!r} is not a supported Digital Link primary key")
    _check_ai_value(link.key_ai, link.key)
    allowed = _KEY_QUALIFIERS.get(link.key_ai, ())
    name = f"{_AIS[link.key_ai].name} (AI {link.key_ai})"
    listed = ", ".join(allowed) or "none"
    for ai, value in link.qualifiers:
        if ai not in allowed:
            raise IdentifierError(f"AI {ai} is not a key qualifier of {name} (allowed: {listed})")
        _check_ai_value(ai, value)
    order = [allowed.index(ai) for ai, _ in link.qualifiers]
    if order != sorted(set(order)):
        got = ", ".join(ai for ai, _ in link.qualifiers)
        raise IdentifierError(f"qualifiers of {name} must come once each as {listed}; got {got}")


def _encode(text: str) -> str:
    return "".join(c if c in _URI_UNRESERVED else f"%{ord(c):02X}" for c in text)


def format_digital_link(link: DigitalLink) -> str:
    """The Digital Link URI: values percent-encoded outside the URI unreserved set."""
    pairs = ((link.key_ai, link.key), *link.qualifiers)
    path = "".join(f"/{ai}/{_encode(value)}" for ai, value in pairs)
    query = "&".join(f"{_encode(name)}={_encode(value)}" for name, value in link.attributes)
    return link.base + path + (f"?{query}" if query else "")


def _key_index(segments: list[str]) -> int:
    """Where the primary key starts: the last key AI followed by whole AI/value pairs."""
    found = [
        i
        for i, segment in enumerate(segments)
        if segment in _PRIMARY_KEYS and (len(segments) - i) % 2 == 0
    ]
    if not found:
        raise IdentifierError(f"no GS1 primary key ({', '.join(_PRIMARY_KEYS)}) in the path")
    return found[-1]


def _path_value(ai: str, raw: str) -> str:
    what = f"AI {ai} value {raw!r}"
    value = _unescape(what, raw, _URI_PATH_LITERAL, _ASCII)
    return normalise_gtin(value) if ai == "01" and _DIGITS.fullmatch(value) else value


def _query_text(what: str, raw: str) -> str:
    """A query-string name or value decoded; ``+`` is a space there, as in HTML forms."""
    literal = (_URI_PATH_LITERAL | frozenset("/?")) - {"+"}
    return _unescape(f"query {what} {raw!r}", raw.replace("+", "%20"), literal, _ASCII)


def _query_attributes(query: str | None) -> tuple[tuple[str, str], ...]:
    pairs = [part.partition("=") for part in (query or "").split("&") if part]
    return tuple((_query_text("name", n), _query_text("value", v)) for n, _, v in pairs)


def _parse_digital_link(uri: str) -> DigitalLink:
    match = _DIGITAL_LINK.fullmatch(uri)
    if match is None:
        raise IdentifierError("not an http(s) URI with a domain")
    path, query = match[2], match[3]
    segments = path.split("/")[1:]
    start = _key_index(segments)
    base = uri[: match.start(2)] + "/".join(["", *segments[:start]])
    tail = segments[start:]
    pairs = [(ai, _path_value(ai, raw)) for ai, raw in zip(tail[::2], tail[1::2], strict=True)]
    return DigitalLink(pairs[0][0], pairs[0][1], tuple(pairs[1:]), _query_attributes(query), base)


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse and check a GS1 Digital Link URI (any domain, optional path prefix).

    GTIN-8/12/13 keys are padded to GTIN-14; every check digit, length and CSET 82
    character is verified; query attributes are kept, decoded, in their order.
    """
    try:
        return _parse_digital_link(uri)
    except IdentifierError as exc:
        raise IdentifierError(f"Digital Link {uri!r}: {exc}") from exc


# ── EPC URNs (TDS pure identity, class and pattern URIs) ──────────────────────────────


@dataclass(frozen=True, slots=True)
class _Scheme:
    """How an EPC scheme's components map onto a GS1 key and its Digital Link."""

    ai: str  # the GS1 key's AI
    digits: int  # company prefix + numeric reference; 0 = alphanumeric reference (GIAI)
    indicator: bool = False  # the reference's first digit leads the key (GTIN, SSCC)
    text: str = ""  # name of the third component ("" when there is none)
    text_max: int = 0
    qualifier: str = ""  # the Digital Link AI carrying the text ("" = appended to the key)
    absent: str = ""  # the text meaning "none" (SGLN extension "0")
    is_class: bool = False  # urn:epc:class: rather than urn:epc:id:


_SCHEMES = {
    "sgtin": _Scheme("01", 13, indicator=True, text="serial", text_max=20, qualifier="21"),
    "lgtin": _Scheme("01", 13, True, text="lot", text_max=20, qualifier="10", is_class=True),
    "sscc": _Scheme("00", 17, indicator=True),
    "sgln": _Scheme("414", 12, text="extension", text_max=20, qualifier="254", absent="0"),
    "pgln": _Scheme("417", 12),
    "grai": _Scheme("8003", 12, text="serial", text_max=16),
    "gdti": _Scheme("253", 12, text="serial", text_max=17),
    "giai": _Scheme("8004", 0),
    "gsrn": _Scheme("8018", 17),
    "gsrnp": _Scheme("8017", 17),
}
_SCHEME_BY_AI = {s.ai: name for name, s in _SCHEMES.items() if not s.is_class}


@dataclass(frozen=True, slots=True)
class EpcUrn:
    """An EPC URN as EPCIS uses it, with decoded components.

    ``reference`` is the item reference with indicator (SGTIN, LGTIN), the serial reference
    with extension digit (SSCC), the location, party, asset-type, document-type, service or
    individual-asset reference. ``text`` is the serial, lot or GLN extension ("" for schemes
    without one). In an ``idpat`` a component of ``"*"`` is a wildcard.
    """

    kind: UrnKind
    scheme: str
    company_prefix: str
    reference: str
    text: str = ""

    def __post_init__(self) -> None:
        _check_urn(self)

    @property
    def uri(self) -> str:
        """The URN string, alphanumeric components escaped as TDS requires."""
        return format_urn(self)

    @property
    def components(self) -> tuple[str, ...]:
        """The dot-separated components, decoded."""
        parts = (self.company_prefix, self.reference, self.text)
        return parts if _SCHEMES[self.scheme].text else parts[:2]


def _scheme_for(kind: UrnKind, name: str) -> _Scheme:
    scheme = _SCHEMES.get(name)
    if scheme is None or scheme.is_class != (kind == "class"):
        known = sorted(n for n, s in _SCHEMES.items() if s.is_class == (kind == "class"))
        raise IdentifierError(f"urn:epc:{kind}:{name} is not supported; known: {known}")
    return scheme


def _check_wildcards(parts: tuple[str, ...]) -> None:
    first = parts.index("*") if "*" in parts else len(parts)
    if any(part != "*" for part in parts[first:]):
        raise IdentifierError(f"'*' may only replace trailing components, got {'.'.join(parts)}")


def _check_reference(scheme: _Scheme, prefix: str, reference: str) -> None:
    if scheme.digits == 0:
        _check_text(f"asset reference {reference!r}", reference, 30 - len(prefix))
        if not reference:
            raise IdentifierError("asset reference is empty")
    elif not _DIGITS.fullmatch(prefix + reference) or len(prefix + reference) != scheme.digits:
        raise IdentifierError(
            f"company prefix {prefix} + reference {reference!r} must be {scheme.digits} digits"
        )


def _check_urn(urn: EpcUrn) -> None:
    scheme = _scheme_for(urn.kind, urn.scheme)
    wild = urn.kind == "idpat"
    if urn.text and not scheme.text:
        raise IdentifierError(f"{urn.scheme} has no third component, got {urn.text!r}")
    if wild:
        _check_wildcards(urn.components)
    if not (wild and urn.company_prefix == "*"):
        _check_company_prefix(urn.company_prefix)
    if not (wild and urn.reference == "*"):
        _check_reference(scheme, urn.company_prefix, urn.reference)
    if scheme.text and not (wild and urn.text == "*"):
        _check_text(f"{scheme.text} {urn.text!r}", urn.text, scheme.text_max)
        if not urn.text:
            raise IdentifierError(f"{scheme.text} is empty")


def _check_company_prefix(prefix: str) -> None:
    if not _DIGITS.fullmatch(prefix) or not 6 <= len(prefix) <= 12:
        raise IdentifierError(f"company prefix {prefix!r}: must be 6 to 12 digits")


def _urn_escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _URN_ESCAPED else c for c in text)


def format_urn(urn: EpcUrn) -> str:
    """The URN string: ``urn:epc:{kind}:{scheme}:{components}`` with TDS escapes."""
    scheme = _SCHEMES[urn.scheme]
    parts = list(urn.components)
    if scheme.digits == 0:
        parts[1] = _urn_escape(parts[1])
    if scheme.text:
        parts[2] = _urn_escape(parts[2])
    return f"urn:epc:{urn.kind}:{urn.scheme}:{'.'.join(parts)}"


def _urn_component(kind: UrnKind, scheme: _Scheme, index: int, part: str) -> str:
    """Component ``index`` decoded: only alphanumeric ones (GIAI reference, text) escape."""
    alphanumeric = index == 2 or (index == 1 and scheme.digits == 0)
    if not alphanumeric or (kind == "idpat" and part == "*"):
        return part
    name = scheme.text if index == 2 else "asset reference"
    return _unescape(f"{name} {part!r}", part, _URN_LITERAL, _URN_ESCAPED)


def _parse_urn(text: str) -> EpcUrn:
    match = _URN.fullmatch(text)
    if match is None:
        raise IdentifierError("not an EPC URN (urn:epc:id|class|idpat:<scheme>:…)")
    kind, name, body = _KINDS[match[1]], match[2], match[3]
    scheme = _scheme_for(kind, name)
    count = 3 if scheme.text else 2
    parts = body.split(".", count - 1)
    if len(parts) != count:
        raise IdentifierError(f"{name} needs {count} dot-separated components")
    decoded = [_urn_component(kind, scheme, i, part) for i, part in enumerate(parts)]
    return EpcUrn(kind, name, *decoded)


def parse_urn(text: str) -> EpcUrn:
    """Parse and check an EPC URN: ``urn:epc:id:…``, ``urn:epc:class:lgtin:…`` or
    ``urn:epc:idpat:…``."""
    try:
        return _parse_urn(text)
    except IdentifierError as exc:
        raise IdentifierError(f"EPC URN {text!r}: {exc}") from exc


# ── Digital Link ⇄ EPC URN ─────────────────────────────────────────────────────────────


def _gs1_key(urn: EpcUrn, scheme: _Scheme) -> str:
    if scheme.digits == 0:
        return urn.company_prefix + urn.reference
    prefix, reference = urn.company_prefix, urn.reference
    body = reference[0] + prefix + reference[1:] if scheme.indicator else prefix + reference
    return _AIS[scheme.ai].lead + body + str(gs1_check_digit(body))


def _serial_pattern(urn: EpcUrn, scheme: _Scheme) -> bool:
    """Whether a pattern leaves only a required serial open (a GTIN, GRAI or GDTI class)."""
    required = bool(scheme.text) and not scheme.absent
    return required and urn.text == "*" and "*" not in urn.components[:2]


def urn_to_digital_link(urn: EpcUrn, base: str = CANONICAL_BASE) -> DigitalLink:
    """The Digital Link of an EPC URN.

    An ``idpat`` converts only when just its serial is ``*`` (e.g. the GTIN class
    ``urn:epc:idpat:sgtin:4012345.098765.*``): it becomes the bare key.
    """
    scheme = _SCHEMES[urn.scheme]
    if urn.kind == "idpat" and not _serial_pattern(urn, scheme):
        raise IdentifierError(f"{urn.uri}: only a pattern on the serial alone has a Digital Link")
    text = "" if urn.kind == "idpat" or urn.text == scheme.absent else urn.text
    if scheme.qualifier:
        qualifiers = ((scheme.qualifier, text),) if text else ()
        return DigitalLink(scheme.ai, _gs1_key(urn, scheme), qualifiers, base=base)
    return DigitalLink(scheme.ai, _gs1_key(urn, scheme) + text, base=base)


def _split_key(link: DigitalLink, scheme: _Scheme, prefix_length: int) -> tuple[str, str, str]:
    """(company prefix, reference, rest of the key after its check digit)."""
    if scheme.digits == 0:
        prefix, reference = link.key[:prefix_length], link.key[prefix_length:]
        if not _DIGITS.fullmatch(prefix) or not reference:
            raise IdentifierError(
                f"GIAI {link.key!r}: does not start with a {prefix_length}-digit company "
                "prefix followed by an asset reference"
            )
        return prefix, reference, ""
    start = len(_AIS[scheme.ai].lead)
    body, rest = link.key[start : start + scheme.digits], link.key[start + scheme.digits + 1 :]
    if scheme.indicator:
        return body[1 : 1 + prefix_length], body[0] + body[1 + prefix_length :], rest
    return body[:prefix_length], body[prefix_length:], rest


def digital_link_to_urn(link: DigitalLink, company_prefix_length: int = 7) -> EpcUrn:
    """The EPC URN of a Digital Link, splitting the key after ``company_prefix_length``.

    ``/01/{gtin}/21/{serial}`` gives an SGTIN (a lot or CPV beside the serial is not part
    of the EPC and is dropped), ``/01/{gtin}/10/{lot}`` an LGTIN class, a bare ``/01/{gtin}``
    the GTIN class pattern ``urn:epc:idpat:sgtin:CP.ItemRef.*``; likewise a GRAI or GDTI
    without serial gives an ``idpat``. Query attributes are not part of any EPC.
    """
    if not 6 <= company_prefix_length <= 12:
        raise IdentifierError(f"company prefix length {company_prefix_length}: must be 6 to 12")
    has_lot = link.qualifier("10") is not None and link.qualifier("21") is None
    name = "lgtin" if link.key_ai == "01" and has_lot else _SCHEME_BY_AI[link.key_ai]
    scheme = _SCHEMES[name]
    prefix, reference, rest = _split_key(link, scheme, company_prefix_length)
    text = (link.qualifier(scheme.qualifier) or scheme.absent) if scheme.qualifier else rest
    kind: UrnKind = "class" if scheme.is_class else "id"
    if scheme.text and not text:
        kind, text = "idpat", "*"
    return EpcUrn(kind, name, prefix, reference, text)


def matches(pattern: str, epc: str) -> bool:
    """EPCIS MATCH_epc: does ``epc`` match ``pattern``?

    A ``urn:epc:idpat:`` pattern matches an ``urn:epc:id:`` URN of its scheme whose
    components equal the pattern's, ``*`` matching any; any other pattern matches by string
    equality. A value that is not an EPC URN never matches a pattern; a malformed pattern
    or EPC URN raises :class:`IdentifierError`.
    """
    if not pattern.startswith("urn:epc:idpat:"):
        return pattern == epc
    wanted = parse_urn(pattern)
    if not epc.startswith("urn:epc:"):
        return False
    target = parse_urn(epc)
    if target.kind != "id" or target.scheme != wanted.scheme:
        return False
    pairs = zip(wanted.components, target.components, strict=True)
    return all(want in ("*", got) for want, got in pairs)


def _epc_qualifiers(link: DigitalLink) -> tuple[tuple[str, str], ...]:
    """The key qualifiers that are part of the EPC: a serial beside a lot or CPV identifies
    the instance alone; a lot without serial is the LGTIN class."""
    if link.key_ai != "01":
        return link.qualifiers
    for ai in ("21", "10"):
        if (value := link.qualifier(ai)) is not None:
            return ((ai, value),)
    return ()


def canonical_digital_link(text: str) -> str | None:
    """The canonical Digital Link (``https://id.gs1.org``, EPC qualifiers only, no query
    attributes) of an EPC URN or of a Digital Link on any domain: two spellings of the same
    object give the same text. None for other URIs and for patterns wider than a serial."""
    try:
        if text.startswith(("urn:epc:id:", "urn:epc:class:", "urn:epc:idpat:")):
            return urn_to_digital_link(parse_urn(text)).uri
        if text.startswith(("http://", "https://")):
            link = parse_digital_link(text)
            return DigitalLink(link.key_ai, link.key, _epc_qualifiers(link)).uri
    except IdentifierError:
        return None
    return None


def urn_spellings(link_text: str) -> list[str]:
    """The EPC URNs a Digital Link may be written as: one per company prefix length that
    fits its key (the URN needs the length, the Digital Link does not carry it)."""
    try:
        link = parse_digital_link(link_text)
    except IdentifierError:
        return []
    out = []
    for length in range(6, 13):
        try:
            out.append(digital_link_to_urn(link, length).uri)
        except IdentifierError:
            continue
    return out


def matches_any_spelling(pattern: str, epc: str) -> bool:
    """:func:`matches`, where ``epc`` may also be a Digital Link (read with the pattern's
    company prefix length) and an LGTIN class matches a GTIN pattern whose serial is ``*``."""
    if not pattern.startswith("urn:epc:idpat:"):
        if pattern == epc:
            return True
        same = canonical_digital_link(pattern)
        return same is not None and same == canonical_digital_link(epc)
    wanted = parse_urn(pattern)
    if epc.startswith(("http://", "https://")):
        try:
            epc = digital_link_to_urn(parse_digital_link(epc), len(wanted.company_prefix)).uri
        except IdentifierError:
            return False
    if epc.startswith("urn:epc:class:lgtin:") and wanted.scheme == "sgtin":
        target = parse_urn(epc)
        pairs = zip(wanted.components[:2], target.components[:2], strict=True)
        return wanted.text == "*" and all(w in ("*", g) for w, g in pairs)
    return matches(pattern, epc)
