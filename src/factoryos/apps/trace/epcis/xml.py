"""An EPCIS 2.0 XML document rewritten in the standard's JSON/JSON-LD form.

XML then goes through the same capture path as JSON: :func:`xml_to_json` returns the JSON
document, :func:`parse_xml_document` also validates it with the standard's JSON schema.

The mapping follows the EPCIS 2.0 XML and JSON bindings:

* standard fields keep their names; list wrappers become arrays (``<epcList><epc>`` →
  ``"epcList": [...]``) and ``type`` attributes become ``{"type": ..., "source": ...}``;
* CBV values take their JSON short form (``urn:epcglobal:cbv:bizstep:shipping`` and
  ``https://ref.gs1.org/cbv/BizStep-shipping`` → ``shipping``); other URIs stay whole;
* numbers and booleans of the standard fields are typed; ``xsi:nil`` quantities are left out;
* the 1.x ``<extension>``/``<baseExtension>`` wrappers are dissolved into their parent;
* a user extension element becomes a ``prefix:name`` key: text for a leaf, an object for
  children (a repeated name becomes an array), its attributes as keys and, beside them, its
  text as ``#text``; every extension namespace gets a prefix in ``@context``.

An ``EPCISMasterDataDocument`` becomes an ``EPCISDocument`` carrying the vocabularies in
``epcisHeader.epcisMasterData`` and an empty event list; an ``EPCISCaptureJob`` (a capture
interface's answer, not data) and a query document are refused. A DOCTYPE with an internal
subset or an external DTD, and so every entity declaration, is refused before it is read.
"""

from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from factoryos.apps.trace.epcis.validate import (
    DocumentProblem,
    EpcisDocumentError,
    validate_document,
)

CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EPCIS_NS = ("urn:epcglobal:epcis:xsd:2", "urn:epcglobal:epcis:xsd:1")
MASTERDATA_NS = ("urn:epcglobal:epcis-masterdata:xsd:2", "urn:epcglobal:epcis-masterdata:xsd:1")
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
# XML plumbing, never the namespace of user data
NOT_EXTENSIONS = {*EPCIS_NS, *MASTERDATA_NS, XSI_NS, SBDH_NS, "http://www.w3.org/2001/XMLSchema"}
# Prefixes the standard context defines (and protects); a document's own binding of the
# same namespace is written with these, never redeclared.
STANDARD_PREFIXES = {
    "https://ref.gs1.org/epcis/": "epcis",
    "https://ref.gs1.org/cbv/": "cbv",
    "urn:epcglobal:cbv:mda:": "cbvmda",
    "https://gs1.org/voc/": "gs1",
    "http://www.w3.org/2000/01/rdf-schema#": "rdfs",
    "http://www.w3.org/2002/07/owl#": "owl",
    "http://www.w3.org/2001/XMLSchema#": "xsd",
    "http://purl.org/dc/terms/": "dcterms",
}
GS1_VOC = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/")
CBV_WEB = "https://ref.gs1.org/cbv/"
# CBV vocabulary: its URN form and its web-URI form, both written as the bare term in JSON
CBV_FORMS = {
    "bizstep": ("urn:epcglobal:cbv:bizstep:", CBV_WEB + "BizStep-"),
    "disp": ("urn:epcglobal:cbv:disp:", CBV_WEB + "Disp-"),
    "btt": ("urn:epcglobal:cbv:btt:", CBV_WEB + "BTT-"),
    "sdt": ("urn:epcglobal:cbv:sdt:", CBV_WEB + "SDT-"),
    "er": ("urn:epcglobal:cbv:er:", CBV_WEB + "ER-"),
}
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
TEXT_FIELDS = (
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "action",
    "parentID",
    "transformationID",
)
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue")
SENSOR_STRINGS = (
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
    "time",
    "startTime",
    "endTime",
    "microorganism",
    "chemicalSubstance",
    "coordinateReferenceSystem",
    "stringValue",
    "hexBinaryValue",
    "uriValue",
    "uom",
)

Json = dict[str, Any]


class _RefusedError(Exception):
    """Raised from inside the parser: the text declares what we will not read."""


@dataclass
class _Parsed:
    root: Element
    declared: dict[str, str]  # prefix → namespace, first declaration of each prefix


def _name(expat_name: str) -> str:
    """``"urn:x local"`` (expat, separator " ") → ElementTree's ``"{urn:x}local"``."""
    uri, _, local = expat_name.rpartition(" ")
    return f"{{{uri}}}{local}" if uri else local


def _parse(text: bytes | str, source: str) -> _Parsed:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = TreeBuilder()
    declared: dict[str, str] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_name(name), {_name(k): v for k, v in attrs.items()})

    def namespace(prefix: str | None, uri: str) -> None:
        declared.setdefault(prefix or "", uri)

    def doctype(name: str, system: str | None, public: str | None, subset: int) -> None:
        # a bare <!DOCTYPE name> (as in some GS1 examples) declares nothing
        if system or public or subset:
            raise _RefusedError(f"a DTD (DOCTYPE {name}) is not accepted")

    def entity(name: str, *_: object) -> None:
        raise _RefusedError(f"an entity declaration ({name}) is not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_name(name))
    parser.CharacterDataHandler = builder.data
    parser.StartNamespaceDeclHandler = namespace
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        # expat counts columns from 0; we report them from 1, as the JSON parser does
        where = f"line {exc.lineno} column {exc.offset + 1}"
        message = f"not XML at {where}: {expat.ErrorString(exc.code)}"
        raise EpcisDocumentError(source, [DocumentProblem("(text)", message)]) from exc
    except _RefusedError as exc:
        where = f"line {parser.CurrentLineNumber} column {parser.CurrentColumnNumber + 1}"
        message = f"refused at {where}: {exc}"
        raise EpcisDocumentError(source, [DocumentProblem("(text)", message)]) from exc
    return _Parsed(builder.close(), declared)


def _split(tag: str) -> tuple[str, str]:
    """``"{ns}local"`` → ``("ns", "local")``; no namespace → ``("", local)``."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _jsonld_namespace(uri: str) -> str:
    """A compact IRI is prefix + name concatenated, so the namespace needs its separator."""
    if uri.endswith(("/", "#", ":")):
        return uri
    return uri + (":" if uri.startswith("urn:") else "/")


def _append(target: Json, name: str, item: Any) -> None:
    """A repeated extension element becomes an array of its values."""
    if name not in target:
        target[name] = item
    elif isinstance(target[name], list):
        target[name].append(item)
    else:
        target[name] = [target[name], item]


def _short_cbv(value: str, vocabulary: str) -> str:
    for form in CBV_FORMS[vocabulary]:
        # case-blind: GS1's own examples write the web form "Bizstep-" as well as "BizStep-"
        if value[: len(form)].lower() == form.lower():
            return value[len(form) :]
    return value


@dataclass
class _Converter:
    declared: dict[str, str]
    problems: list[DocumentProblem] = field(default_factory=list)
    prefixes: dict[str, str] = field(default_factory=dict)  # namespace → prefix
    context: dict[str, str] = field(default_factory=dict)  # prefix → JSON-LD namespace

    def __post_init__(self) -> None:
        for prefix, uri in self.declared.items():
            if uri not in NOT_EXTENSIONS:
                self._prefix(uri, prefix)

    # -- namespaces -------------------------------------------------------------------

    def _prefix(self, uri: str, wanted: str = "") -> str:
        if uri in self.prefixes:
            return self.prefixes[uri]
        standard = STANDARD_PREFIXES.get(_jsonld_namespace(uri))
        if standard:
            self.prefixes[uri] = standard
            return standard
        taken = set(self.context) | set(STANDARD_PREFIXES.values())
        prefix, n = wanted, 0
        while not prefix or prefix in taken:
            n += 1
            prefix = f"ns{n}"
        self.prefixes[uri] = prefix
        self.context[prefix] = _jsonld_namespace(uri)
        return prefix

    def key(self, tag: str) -> str:
        uri, local = _split(tag)
        return f"{self._prefix(uri)}:{local}" if uri else local

    def qname_value(self, value: str) -> str:
        """An attribute holding a QName (``gs1:Temperature``) as a full IRI, if it is one."""
        prefix, colon, local = value.partition(":")
        if not colon or local.startswith("//"):
            return value
        if prefix in self.declared:
            return self.declared[prefix] + local
        standard = {p: uri for uri, p in STANDARD_PREFIXES.items()}
        return standard.get(prefix, prefix + ":") + local  # the context's own prefixes

    def compact(self, iri: str) -> str:
        for uri in sorted(self.prefixes, key=len, reverse=True):
            if iri.startswith(uri) and len(iri) > len(uri):
                return f"{self.prefixes[uri]}:{iri[len(uri) :]}"
        return iri

    def problem(self, path: str, message: str) -> None:
        self.problems.append(DocumentProblem(path, message))

    # -- typed values -------------------------------------------------------------------

    def number(self, text: str, path: str) -> int | float | None:
        text = text.strip()
        try:
            return int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            self.problem(path, f"{text!r} is not a number")
            return None

    def boolean(self, text: str, path: str) -> bool | None:
        value = {"true": True, "1": True, "false": False, "0": False}.get(text.strip())
        if value is None:
            self.problem(path, f"{text!r} is not a boolean")
        return value

    # -- extensions ----------------------------------------------------------------------

    def extension(self, element: Element) -> Any:
        attributes = {
            self.key(name): value
            for name, value in element.attrib.items()
            if _split(name)[0] != XSI_NS
        }
        text = (element.text or "").strip()
        children = list(element)
        if not children and not attributes:
            return text
        value: Json = dict(attributes)
        if text:
            value["#text"] = text
        for child in children:
            _append(value, self.key(child.tag), self.extension(child))
        return value

    def put_extension(self, target: Json, child: Element, path: str) -> None:
        """A namespaced element into ``target``; the unqualified ones are unknown."""
        if child.tag == "extension" or child.tag == "baseExtension":
            for grandchild in child:
                self.put_extension(target, grandchild, f"{path}/{child.tag}")
            return
        uri, local = _split(child.tag)
        if not uri or uri in NOT_EXTENSIONS:
            self.problem(f"{path}/{local}", f"unknown element {local!r}")
            return
        _append(target, self.key(child.tag), self.extension(child))

    def extension_attributes(self, target: Json, element: Element) -> None:
        for name, value in element.attrib.items():
            uri, _ = _split(name)
            if uri and uri != XSI_NS:
                target[self.key(name)] = value

    # -- events ---------------------------------------------------------------------------

    def event(self, element: Element, path: str) -> Json:
        event: Json = {"type": element.tag}
        self.event_fields(event, element, path)
        return event

    def event_fields(self, event: Json, element: Element, path: str) -> None:
        for child in element:
            tag, here = child.tag, f"{path}/{child.tag}"
            if tag in ("extension", "baseExtension"):
                self.event_fields(event, child, here)  # 1.x wrappers, dissolved
            elif tag in TEXT_FIELDS:
                event[tag] = (child.text or "").strip()
            elif tag == "bizStep":
                event[tag] = _short_cbv((child.text or "").strip(), "bizstep")
            elif tag == "disposition":
                event[tag] = _short_cbv((child.text or "").strip(), "disp")
            elif tag in EPC_LISTS:
                event[tag] = [(epc.text or "").strip() for epc in child.iter("epc")]
            elif tag in QUANTITY_LISTS:
                event[tag] = [self.quantity(q, f"{here}/quantityElement") for q in child]
            elif tag in ("readPoint", "bizLocation"):
                event[tag] = self.location(child, here)
            elif tag == "bizTransactionList":
                event[tag] = [self.typed(b, "bizTransaction", "btt") for b in child]
            elif tag == "sourceList":
                event[tag] = [self.typed(s, "source", "sdt") for s in child]
            elif tag == "destinationList":
                event[tag] = [self.typed(d, "destination", "sdt") for d in child]
            elif tag == "sensorElementList":
                elements = [e for e in child if e.tag == "sensorElement"]
                event[tag] = [self.sensor_element(e, f"{here}/sensorElement") for e in elements]
            elif tag == "persistentDisposition":
                event[tag] = self.persistent_disposition(child)
            elif tag == "errorDeclaration":
                event[tag] = self.error_declaration(child, here)
            elif tag == "ilmd":
                ilmd: Json = {}
                for item in child:
                    self.put_extension(ilmd, item, here)
                event[tag] = ilmd
            else:
                self.put_extension(event, child, path)

    def quantity(self, element: Element, path: str) -> Json:
        out: Json = {}
        for child in element:
            text = (child.text or "").strip()
            if child.tag == "quantity":
                if child.get(f"{{{XSI_NS}}}nil") not in ("true", "1"):
                    out["quantity"] = self.number(text, f"{path}/quantity")
            elif child.tag in ("epcClass", "uom"):
                out[child.tag] = text
            else:
                self.problem(f"{path}/{child.tag}", f"unknown element {child.tag!r}")
        return out

    def location(self, element: Element, path: str) -> Json:
        out: Json = {}
        for child in element:
            if child.tag == "id":
                out["id"] = (child.text or "").strip()
            else:
                self.put_extension(out, child, path)
        return out

    def typed(self, element: Element, name: str, vocabulary: str) -> Json:
        out: Json = {}
        if "type" in element.attrib:
            out["type"] = _short_cbv(element.attrib["type"].strip(), vocabulary)
        out[name] = (element.text or "").strip()
        return out

    def persistent_disposition(self, element: Element) -> Json:
        out: Json = {}
        for child in element:
            out.setdefault(child.tag, []).append(_short_cbv((child.text or "").strip(), "disp"))
        return out

    def error_declaration(self, element: Element, path: str) -> Json:
        out: Json = {}
        for child in element:
            text = (child.text or "").strip()
            if child.tag == "declarationTime":
                out["declarationTime"] = text
            elif child.tag == "reason":
                out["reason"] = _short_cbv(text, "er")
            elif child.tag == "correctiveEventIDs":
                ids = child.iter("correctiveEventID")
                out["correctiveEventIDs"] = [(i.text or "").strip() for i in ids]
            else:
                self.put_extension(out, child, path)
        return out

    # -- sensor data ----------------------------------------------------------------------

    def sensor_element(self, element: Element, path: str) -> Json:
        out: Json = {}
        for child in element:
            if child.tag == "sensorMetadata":
                out["sensorMetadata"] = self.sensor_attributes(child, f"{path}/sensorMetadata")
            elif child.tag == "sensorReport":
                report = self.sensor_attributes(child, f"{path}/sensorReport")
                out.setdefault("sensorReport", []).append(report)
            else:
                self.put_extension(out, child, path)
        return out

    def sensor_attributes(self, element: Element, path: str) -> Json:
        out: Json = {}
        for name, value in element.attrib.items():
            here = f"{path}/@{name}"
            if name in ("type", "exception"):
                out[name] = self.vocabulary_term(value, GS1_VOC, "")
            elif name == "component":
                out[name] = self.vocabulary_term(value, (CBV_WEB,), "Comp-")
            elif name in SENSOR_NUMBERS:
                out[name] = self.number(value, here)
            elif name == "booleanValue":
                out[name] = self.boolean(value, here)
            elif name in SENSOR_STRINGS:
                out[name] = value
            elif _split(name)[0] and _split(name)[0] != XSI_NS:
                out[self.key(name)] = value
            elif _split(name)[0] != XSI_NS:
                self.problem(here, f"unknown attribute {name!r}")
        for child in element:
            self.put_extension(out, child, path)
        return out

    def vocabulary_term(self, value: str, namespaces: tuple[str, ...], term: str) -> str:
        """``gs1:Temperature`` → ``Temperature``; a term of another vocabulary, compacted."""
        iri = self.qname_value(value.strip())
        for namespace in namespaces:
            if iri.startswith(namespace + term):
                return iri[len(namespace + term) :]
        return self.compact(iri)

    # -- master data ----------------------------------------------------------------------

    def vocabulary(self, element: Element, path: str) -> Json:
        out: Json = {"type": element.get("type", "")}
        elements: list[Json] = []
        for child in element:
            if child.tag == "VocabularyElementList":
                here = f"{path}/VocabularyElementList/VocabularyElement"
                elements.extend(self.vocabulary_element(e, here) for e in child)
            else:
                self.put_extension(out, child, path)
        if elements:
            out["vocabularyElementList"] = elements
        return out

    def vocabulary_element(self, element: Element, path: str) -> Json:
        out: Json = {"id": element.get("id", "")}
        for child in element:
            if child.tag == "attribute":
                value = self.extension(child) if len(child) else (child.text or "").strip()
                if isinstance(value, dict) and child.get("id") is not None:
                    value.pop("id", None)  # the attribute's own id is not its value
                entry = {"id": child.get("id", ""), "attribute": value}
                out.setdefault("attributes", []).append(entry)
            elif child.tag == "children":
                out["children"] = [(i.text or "").strip() for i in child.iter("id")]
            else:
                self.put_extension(out, child, path)
        return out

    def master_data(self, vocabulary_list: Element, path: str) -> Json:
        vocabularies = [v for v in vocabulary_list if v.tag == "Vocabulary"]
        here = f"{path}/Vocabulary"
        return {"vocabularyList": [self.vocabulary(v, here) for v in vocabularies]}


def _event_list(converter: _Converter, element: Element, path: str) -> list[Json]:
    events: list[Json] = []
    for position, child in enumerate(element, start=1):
        here = f"{path}/{child.tag}"
        if child.tag in EVENT_TYPES:
            events.append(converter.event(child, f"{path}/{child.tag}[{position}]"))
        elif child.tag == "extension":  # 1.x placed TransformationEvent here
            events.extend(_event_list(converter, child, here))
        elif child.tag == "QuantityEvent":
            converter.problem(here, "QuantityEvent (EPCIS 1.x, deprecated) has no JSON form")
        else:
            converter.problem(here, f"unknown event element {_split(child.tag)[1]!r}")
    return events


def _header(converter: _Converter, document: Json, header: Element, path: str) -> None:
    for child in header:
        uri, local = _split(child.tag)
        here = f"{path}/{local}"
        if uri == SBDH_NS and local == "StandardBusinessDocumentHeader":
            _sbdh(document, child)
        elif child.tag in ("extension", "EPCISMasterData"):
            for item in [child] if child.tag == "EPCISMasterData" else list(child):
                if item.tag != "EPCISMasterData":
                    converter.put_extension(document, item, here)
                    continue
                for vocabularies in item.iter("VocabularyList"):
                    master = converter.master_data(vocabularies, f"{here}/VocabularyList")
                    header_json = document.setdefault("epcisHeader", {})
                    header_json["epcisMasterData"] = master
        else:
            converter.put_extension(document, child, path)


def _sbdh(document: Json, sbdh: Element) -> None:
    """The SBDH's sender, receiver and instance identifier are top-level JSON fields."""
    for local, key in (("Sender", "sender"), ("Receiver", "receiver")):
        identifier = sbdh.find(f"{{{SBDH_NS}}}{local}/{{{SBDH_NS}}}Identifier")
        if identifier is not None and identifier.text:
            document[key] = identifier.text.strip()
    instance = sbdh.find(f"{{{SBDH_NS}}}DocumentIdentification/{{{SBDH_NS}}}InstanceIdentifier")
    if instance is not None and instance.text:
        document["instanceIdentifier"] = instance.text.strip()


def _document(converter: _Converter, root: Element, root_name: str) -> Json:
    document: Json = {
        "type": "EPCISDocument",
        "schemaVersion": root.get("schemaVersion", ""),
        "creationDate": root.get("creationDate", ""),
    }
    events: list[Json] = []
    for child in root:
        here = f"{root_name}/{child.tag}"
        if child.tag == "EPCISHeader":
            _header(converter, document, child, here)
        elif child.tag == "EPCISBody":
            for part in child:
                if part.tag == "EventList":
                    events.extend(_event_list(converter, part, f"{here}/EventList"))
                elif part.tag == "VocabularyList" and root_name == "EPCISMasterDataDocument":
                    master = converter.master_data(part, f"{here}/VocabularyList")
                    document["epcisHeader"] = {"epcisMasterData": master}
                else:
                    converter.put_extension(document, part, here)
        else:
            converter.put_extension(document, child, root_name)
    context: list[Any] = [CONTEXT_URL]
    context.extend({prefix: uri} for prefix, uri in converter.context.items())
    return {"@context": context, **document, "epcisBody": {"eventList": events}}


def xml_to_json(text: bytes | str, source: str) -> Json:
    """The JSON/JSON-LD form of an EPCIS 2.0 XML document (not yet schema-validated).

    Raises :class:`EpcisDocumentError` for text that is not XML (with line and column), a
    DTD, and a root or event element that has no JSON form.
    """
    parsed = _parse(text, source)
    uri, local = _split(parsed.root.tag)
    converter = _Converter(parsed.declared)
    known = (uri in EPCIS_NS and local == "EPCISDocument") or (
        uri in MASTERDATA_NS and local == "EPCISMasterDataDocument"
    )
    if not known:
        reasons = {
            "EPCISCaptureJob": "a capture job is the capture interface's answer, not data",
            "EPCISQueryDocument": "query documents are not captured",
        }
        reason = reasons.get(local, "not an EPCISDocument or EPCISMasterDataDocument")
        raise EpcisDocumentError(source, [DocumentProblem(local, reason)])
    document = _document(converter, parsed.root, local)
    if converter.problems:
        raise EpcisDocumentError(source, converter.problems)
    return document


def parse_xml_document(text: bytes | str, source: str = "<document>") -> Json:
    """XML text as the JSON document, validated against the standard's JSON schema."""
    document = xml_to_json(text, source)
    validate_document(document, source)
    return document


__all__ = ["CONTEXT_URL", "parse_xml_document", "xml_to_json"]
