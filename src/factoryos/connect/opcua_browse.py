"""Browsing an OPC UA server's address space, and turning what it holds into a tag map.

:func:`browse` walks the hierarchy below the Objects folder (or a given root) breadth
first, a batch of nodes per request, and returns the variables it finds with their data
type, engineering unit and description. Nodes of namespace 0 (the standard's own Server
object and diagnostics) are not entered. :func:`browse_to_yaml` writes a site-file
fragment: a ``devices`` entry and one equipment per object holding variables.
"""

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds
from asyncua.ua.uaerrors._base import UaError

from factoryos.connect.errors import ConfigError, DriverError, DriverTimeout
from factoryos.connect.opcua_session import close_client, open_client, translate
from factoryos.model.devices import OpcUaDevice
from factoryos.model.tags import DataType

log = logging.getLogger(__name__)

BATCH = 100  # nodes per Browse or Read request
NAME_MAX = 64
_T = TypeVar("_T")
_HAS_PROPERTY = ua.NodeId(ua.Int32(ObjectIds.HasProperty))

#: OPC UA built-in types and the tag type a value of each is stored as.
TYPE_MAP: dict[str, DataType] = {
    "Boolean": DataType.BOOL,
    "SByte": DataType.INT16,
    "Int16": DataType.INT16,
    "Byte": DataType.UINT16,
    "UInt16": DataType.UINT16,
    "Int32": DataType.INT32,
    "UInt32": DataType.UINT32,
    "Float": DataType.FLOAT32,
    # Wider numbers have no tag type of their own: stored as float64, typed float32.
    "Double": DataType.FLOAT32,
    "Int64": DataType.FLOAT32,
    "UInt64": DataType.FLOAT32,
    "Number": DataType.FLOAT32,
    "Integer": DataType.FLOAT32,
    "UInteger": DataType.FLOAT32,
}


@dataclass(frozen=True, slots=True)
class BrowsedVariable:
    """A variable node found by :func:`browse`."""

    node_id: str
    path: tuple[str, ...]  # browse names from the root down to the variable
    data_type: str  # the OPC UA data type's name, e.g. "Float"; "" when unknown
    unit: str = ""
    description: str = ""

    @property
    def tag_type(self) -> DataType | None:
        """The tag type of its values; None when they are not numbers."""
        return TYPE_MAP.get(self.data_type)


@dataclass(frozen=True, slots=True)
class _Found:
    node_id: ua.NodeId
    path: tuple[str, ...]


def _batches(items: Sequence[_T], size: int = BATCH) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def browse(
    endpoint: str | None = None,
    *,
    device: OpcUaDevice | None = None,
    root: str | None = None,
    max_depth: int = 10,
    max_nodes: int = 10_000,
    timeout_s: float = 30.0,
) -> list[BrowsedVariable]:
    """The variables below ``root`` (default: the Objects folder), at most ``max_depth``
    levels down and ``max_nodes`` nodes visited, within ``timeout_s`` in all.

    Connects to ``endpoint`` anonymously, or as ``device`` says (security, user); raises a
    :class:`DriverError` naming the endpoint when it cannot.
    """
    if device is None:
        if endpoint is None:
            raise ConfigError("browse needs an endpoint or a device")
        device = OpcUaDevice(name="browse", protocol="opcua", endpoint=endpoint)
    if max_depth < 1 or max_nodes < 1:
        raise ConfigError(f"max_depth and max_nodes must be >= 1, got {max_depth}, {max_nodes}")
    start = _root(root)
    client = await open_client(device)
    try:
        async with asyncio.timeout(timeout_s):
            found = await _walk(client, start, max_depth, max_nodes)
            return await _describe(client, found)
    except TimeoutError as exc:
        raise DriverTimeout(
            f"browsing {device.endpoint}: not done within {timeout_s} s; "
            "browse a smaller part with a root node or a lower depth"
        ) from exc
    except DriverError:
        raise
    except Exception as exc:
        raise translate(exc, device, "browse") from exc
    finally:
        await close_client(client, device.timeout_s)


def _root(root: str | None) -> ua.NodeId:
    if root is None:
        return ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    try:
        return ua.NodeId.from_string(root)
    except (ValueError, UaError) as exc:
        raise ConfigError(f"root {root!r} is not an OPC UA node id (e.g. ns=2;s=Line1)") from exc


async def _walk(client: Client, start: ua.NodeId, max_depth: int, max_nodes: int) -> list[_Found]:
    frontier = [_Found(start, ())]
    seen = {start}
    variables: list[_Found] = []
    for _ in range(max_depth):
        children: list[_Found] = []
        for chunk in _batches(frontier):
            refs = await _children(
                client, [f.node_id for f in chunk], ObjectIds.HierarchicalReferences
            )
            for parent, references in zip(chunk, refs, strict=True):
                for ref in references:
                    node = ref.NodeId
                    if node in seen or node.NamespaceIndex == 0 or _is_property(ref):
                        continue
                    if len(seen) > max_nodes:
                        log.warning("browse stopped after %d nodes (max_nodes)", max_nodes)
                        return variables
                    seen.add(node)
                    found = _Found(node, (*parent.path, ref.BrowseName.Name or str(node)))
                    if ref.NodeClass == ua.NodeClass.Variable:
                        variables.append(found)
                    children.append(found)
        if not children:
            break
        frontier = children
    return variables


def _is_property(ref: ua.ReferenceDescription) -> bool:
    return bool(ref.ReferenceTypeId == _HAS_PROPERTY)


async def _children(
    client: Client, nodes: Sequence[ua.NodeId], reference_type: int
) -> list[list[ua.ReferenceDescription]]:
    """The forward references of each node (of ``reference_type`` and its subtypes)."""
    params = ua.BrowseParameters(
        RequestedMaxReferencesPerNode=0,
        NodesToBrowse=[
            ua.BrowseDescription(
                NodeId=node,
                BrowseDirection=ua.BrowseDirection.Forward,
                ReferenceTypeId=ua.NodeId(ua.Int32(reference_type)),
                IncludeSubtypes=True,
                NodeClassMask=int(ua.NodeClass.Object) | int(ua.NodeClass.Variable),
                ResultMask=int(ua.BrowseResultMask.All),
            )
            for node in nodes
        ],
    )
    results = await client.uaclient.browse(params)
    references = [list(r.References) for r in results]
    pending = [(i, r.ContinuationPoint) for i, r in enumerate(results) if r.ContinuationPoint]
    while pending:
        more = await client.uaclient.browse_next(
            ua.BrowseNextParameters(
                ReleaseContinuationPoints=False, ContinuationPoints=[cp for _, cp in pending]
            )
        )
        for (i, _), result in zip(pending, more, strict=True):
            references[i].extend(result.References)
        pending = [(i, r.ContinuationPoint) for (i, _), r in zip(pending, more, strict=True)]
        pending = [(i, cp) for i, cp in pending if cp]
    return references


async def _read(client: Client, nodes: Sequence[ua.NodeId], attribute: int) -> list[Any]:
    """One attribute of many nodes; None where the node has no such attribute."""
    values: list[Any] = []
    for chunk in _batches(nodes):
        params = ua.ReadParameters(
            NodesToRead=[ua.ReadValueId(NodeId=n, AttributeId=ua.UInt32(attribute)) for n in chunk]
        )
        for dv in await client.uaclient.read(params):
            good = dv.StatusCode is None or dv.StatusCode.is_good()
            values.append(dv.Value.Value if good and dv.Value is not None else None)
    return values


async def _units(client: Client, nodes: Sequence[ua.NodeId]) -> list[str]:
    """The display name of each variable's EngineeringUnits property, "" if it has none."""
    unit_nodes: dict[int, ua.NodeId] = {}
    for offset, chunk in enumerate(_batches(nodes)):
        props = await _children(client, chunk, ObjectIds.HasProperty)
        for i, refs in enumerate(props):
            for ref in refs:
                if ref.BrowseName.Name == "EngineeringUnits":
                    unit_nodes[offset * BATCH + i] = ref.NodeId
    units = [""] * len(nodes)
    read = await _read(client, list(unit_nodes.values()), AttributeIds.Value)
    for i, eu in zip(unit_nodes, read, strict=True):
        if isinstance(eu, ua.EUInformation) and eu.DisplayName is not None:
            units[i] = eu.DisplayName.Text or ""
    return units


async def _describe(client: Client, found: Sequence[_Found]) -> list[BrowsedVariable]:
    nodes = [f.node_id for f in found]
    types = await _read(client, nodes, AttributeIds.DataType)
    descriptions = await _read(client, nodes, AttributeIds.Description)
    units = await _units(client, nodes)
    return [
        BrowsedVariable(
            node_id=f.node_id.to_string(),
            path=f.path,
            data_type=_type_name(data_type),
            unit=unit,
            description=(desc.Text or "") if isinstance(desc, ua.LocalizedText) else "",
        )
        for f, data_type, desc, unit in zip(found, types, descriptions, units, strict=True)
    ]


def _type_name(data_type: object) -> str:
    if isinstance(data_type, ua.NodeId) and data_type.NamespaceIndex == 0:
        identifier = data_type.Identifier
        if isinstance(identifier, int):
            return ObjectIdNames.get(identifier, "")
    return ""


# -- site-file fragment ---------------------------------------------------------------


def sanitise(name: str, fallback: str) -> str:
    """``name`` as a Unified Namespace segment: lower case, [a-z0-9_-], at most 64 long."""
    segment = re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_-")[:NAME_MAX]
    return segment or fallback


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def _equipment_name(parent: tuple[str, ...], taken: set[str]) -> str:
    """The parent object's own name, or as much of its path as makes it unique."""
    for k in range(1, len(parent) + 1):
        name = sanitise("-".join(parent[-k:]), "objects")
        if name not in taken:
            taken.add(name)
            return name
    return _unique(sanitise("-".join(parent), "objects"), taken)


def browse_to_yaml(variables: Sequence[BrowsedVariable], device_name: str, endpoint: str) -> str:
    """A site-file fragment for the variables: ``devices`` (one OPC UA device) to put at
    the top level, and ``equipment`` (one per parent object) to put under a cell.

    Names are sanitised to Unified Namespace segments and made unique; variables whose
    values are not numbers are left out, listed in a comment."""
    device = sanitise(device_name, "opcua-server")
    numeric = [v for v in variables if v.tag_type is not None]
    skipped = [v for v in variables if v.tag_type is None]
    groups: dict[tuple[str, ...], list[BrowsedVariable]] = {}
    for v in numeric:
        groups.setdefault(v.path[:-1], []).append(v)
    equipment_names: set[str] = set()
    equipment = []
    for parent, members in groups.items():
        name = _equipment_name(parent, equipment_names)
        taken: set[str] = set()
        tags = [_tag(v, _unique(sanitise(v.path[-1], "tag"), taken)) for v in members]
        equipment.append({"name": name, "device": device, "tags": tags})
    fragment = {
        "devices": [{"name": device, "protocol": "opcua", "endpoint": endpoint}],
        "equipment": equipment,
    }
    header = [
        f"# Tag map of {endpoint}, written by `factoryos connect browse`.",
        "# Put `devices` at the top level of the site file and `equipment` under a cell.",
        *_skipped_comment(skipped),
    ]
    body = yaml.safe_dump(fragment, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body


def _tag(v: BrowsedVariable, name: str) -> dict[str, object]:
    assert v.tag_type is not None
    tag: dict[str, object] = {"name": name, "type": str(v.tag_type)}
    if v.unit:
        tag["unit"] = v.unit[:32]
    if v.description:
        tag["description"] = v.description
    tag["opcua"] = {"node_id": v.node_id}
    return tag


def _skipped_comment(skipped: Sequence[BrowsedVariable], most: int = 50) -> list[str]:
    if not skipped:
        return []
    lines = [f"# Left out, not numbers ({len(skipped)}):"]
    for v in skipped[:most]:
        lines.append(f"#   {'/'.join(v.path)}  {v.node_id}  ({v.data_type or 'unknown type'})")
    if len(skipped) > most:
        lines.append(f"#   … and {len(skipped) - most} more")
    return lines
