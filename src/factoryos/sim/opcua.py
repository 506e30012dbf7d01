"""OPC UA server of the virtual factory: every simulated tag as a variable, ISA-95 folders.

The address space mirrors the Unified Namespace: one folder per level (site, area, line,
cell) and one object per equipment, holding one variable per simulated tag. A variable's
node id is ``ns=<idx>;s=<UNS path>`` in the namespace ``urn:factoryos:sim:<site>``, and it
holds the tag's engineering value, quantised exactly as :meth:`VirtualFactory.value` gives
it. :meth:`OpcUaFactoryServer.sync` writes the values that changed, stamped with the
factory's simulated time, so a subscriber sees one data change per tag and changed step.

Clients may write the variables of tags marked ``writable: true`` in the site; every other
variable answers a write with BadUserAccessDenied. A written value is stamped with the
simulated time and then held, as a PLC keeps a setpoint: :meth:`OpcUaFactoryServer.sync`
no longer overwrites it, and :meth:`OpcUaFactoryServer.read` shows what the variable holds.

The asyncua server is built once (loading the standard address space takes a while) and
can be stopped and started again on the same port; a stop drops every session and
subscription, as a real server restart does.
"""

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from asyncua import ua
from asyncua.common.callback import CallbackService, CallbackType, ServerItemCallback
from asyncua.common.node import Node
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds

from factoryos.model.devices import AnyDevice, OpcUaDevice
from factoryos.model.site import SiteFile
from factoryos.model.tags import DataType, OpcUaAddress, Tag
from factoryos.sim.errors import SimConfigError, SimServerError
from factoryos.sim.factory import VirtualFactory

log = logging.getLogger(__name__)

#: The namespace index of the simulator's nodes: the first one a server registers.
NAMESPACE_INDEX = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VARIANT = {
    DataType.BOOL: ua.VariantType.Boolean,
    DataType.INT16: ua.VariantType.Int16,
    DataType.UINT16: ua.VariantType.UInt16,
    DataType.INT32: ua.VariantType.Int32,
    DataType.UINT32: ua.VariantType.UInt32,
    DataType.FLOAT32: ua.VariantType.Float,
}
_MODES = {
    "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


def namespace_uri(site_name: str) -> str:
    """The namespace of the simulator's nodes for a site."""
    return f"urn:factoryos:sim:{site_name}"


def variant_type(tag: Tag) -> ua.VariantType:
    """The OPC UA type a tag's engineering value is served as: its own type when the value
    is the raw value (scale 1, offset 0, or a bit), else Double."""
    if tag.type == DataType.BOOL or (tag.scale == 1.0 and tag.offset == 0.0):
        return _VARIANT[tag.type]
    return ua.VariantType.Double


def node_id(tag_path: str) -> str:
    """The node id (string form) of a simulated tag's variable."""
    return f"ns={NAMESPACE_INDEX};s={tag_path}"


def opcua_site(
    site: SiteFile,
    endpoint: str,
    device: str = "sim-opcua",
    *,
    publishing_interval_s: float = 1.0,
    sampling_interval_s: float = 1.0,
) -> SiteFile:
    """A copy of ``site`` whose simulated equipment is read over OPC UA from the simulator
    serving ``site`` on ``endpoint``, through one new device named ``device``.

    Tags keep type, unit, range and deadband; their address becomes the simulator's node
    and scale and offset become 1 and 0, since the server serves engineering values.
    """
    if any(d.name == device for d in site.devices):
        raise SimConfigError(f"site {site.site.name} already has a device named {device!r}")
    server = OpcUaDevice(
        name=device,
        protocol="opcua",
        endpoint=endpoint,
        publishing_interval_s=publishing_interval_s,
        sampling_interval_s=sampling_interval_s,
    )
    devices: list[AnyDevice] = [*site.devices, server]
    areas = [
        _retarget(area, path_prefix=(site.site.name,), device=device) for area in site.site.areas
    ]
    return site.model_copy(
        update={"devices": devices, "site": site.site.model_copy(update={"areas": areas})}
    )


def _retarget(node: Any, path_prefix: tuple[str, ...], device: str) -> Any:
    """``node`` (area, line, cell or equipment) with its simulated tags moved to OPC UA."""
    path = (*path_prefix, node.name)
    for children in ("lines", "cells", "equipment"):
        if hasattr(node, children):
            kids = [_retarget(k, path, device) for k in getattr(node, children)]
            return node.model_copy(update={children: kids})
    if node.simulate is None:
        return node
    blank = dict.fromkeys(("modbus", "s7", "mqtt", "sparkplug"))
    tags = [
        t
        if t.computed
        else t.model_copy(
            update={
                **blank,
                "opcua": OpcUaAddress(node_id=node_id("/".join((*path, t.name)))),
                "scale": 1.0,
                "offset": 0.0,
            }
        )
        for t in node.tags
    ]
    return node.model_copy(update={"device": device, "tags": tags})


def ns_to_datetime(ts_ns: int) -> ua.DateTime:
    """An aware UTC datetime from ns since the epoch (OPC UA keeps 100 ns; this keeps µs)."""
    return cast(ua.DateTime, _EPOCH + timedelta(microseconds=ts_ns // 1000))


@dataclass(frozen=True)
class ServerSecurity:
    """Basic256Sha256 endpoints of the simulator.

    ``trusted`` is a trust-list directory of client (or CA) certificates, DER or PEM: a
    client whose certificate is not trusted there is refused. ``allow_none`` also keeps an
    unsecured endpoint.
    """

    certificate: Path
    private_key: Path
    trusted: Path
    modes: Sequence[str] = ("Sign", "SignAndEncrypt")
    allow_none: bool = False

    def policies(self) -> list[ua.SecurityPolicyType]:
        unknown = [m for m in self.modes if m not in _MODES]
        if unknown or not self.modes:
            raise SimConfigError(f"security modes must be among {', '.join(_MODES)}: {unknown}")
        none = [ua.SecurityPolicyType.NoSecurity] if self.allow_none else []
        return none + [_MODES[m] for m in self.modes]


class _PasswordUsers(UserManager):
    """Accepts exactly the configured user names and passwords."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


@dataclass(slots=True)
class _Variable:
    path: str
    node_id: ua.NodeId
    variant: ua.VariantType
    held: bool = False  # a client wrote it: sync leaves it alone


class OpcUaFactoryServer:
    """Serves every tag the factory simulates on ``endpoint`` (``opc.tcp://host:port/path``).

    ``users`` (name → password) turns anonymous access off. Use as
    ``async with OpcUaFactoryServer(factory, endpoint) as server: ...``, or call
    :meth:`start` and :meth:`stop`; call :meth:`sync` after stepping the factory.
    """

    def __init__(
        self,
        factory: VirtualFactory,
        endpoint: str,
        *,
        security: ServerSecurity | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        if not endpoint.startswith("opc.tcp://"):
            raise SimConfigError(f"OPC UA endpoint must start with opc.tcp://, got {endpoint!r}")
        self.factory = factory
        self.endpoint = endpoint
        self.security = security
        self.users = dict(users or {})
        self._server: Server | None = None
        self._variables: list[_Variable] = []
        self._by_node: dict[ua.NodeId, _Variable] = {}
        self._last: list[object] = []
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    @staticmethod
    def node_id(tag_path: str) -> str:
        """The node id string of a simulated tag."""
        return node_id(tag_path)

    async def start(self) -> None:
        """Listen on the endpoint (building the address space the first time) and publish
        the current values; raises :class:`SimServerError` if it cannot listen."""
        if self._running:
            return
        server = self._server or await self._build()
        self._server = server
        server.iserver.endpoints.clear()  # start() registers them again on a restart
        try:
            await server.start()
        except OSError as exc:
            raise SimServerError(f"OPC UA server cannot listen on {self.endpoint}: {exc}") from exc
        self._running = True
        self._last = [None] * len(self._variables)
        await self.sync()
        log.info("OPC UA server on %s (%d variables)", self.endpoint, len(self._variables))

    async def stop(self) -> None:
        """Close the endpoint and every connection, dropping sessions and subscriptions."""
        server = self._server
        if server is None or not self._running:
            return
        self._running = False
        subscriptions = server.iserver.subscription_service
        await subscriptions.delete_subscriptions(list(subscriptions.subscriptions))
        await server.stop()
        log.info("OPC UA server on %s stopped", self.endpoint)

    async def __aenter__(self) -> "OpcUaFactoryServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def sync(self) -> None:
        """Write every value that changed since the last sync, stamped ``factory.now_ns``."""
        if self._server is None or not self._running:
            return
        stamp = ns_to_datetime(self.factory.now_ns)
        for i, var in enumerate(self._variables):
            if var.held:
                continue
            value = _typed(self.factory.value(var.path), var.variant)
            if value == self._last[i]:
                continue
            self._last[i] = value
            dv = ua.DataValue(
                ua.Variant(value, var.variant), SourceTimestamp=stamp, ServerTimestamp=stamp
            )
            await self._server.write_attribute_value(var.node_id, dv)

    async def set_status(self, tag_path: str, status: int) -> None:
        """Report ``tag_path`` with an OPC UA status code (e.g. ``0x80000000`` Bad, a sensor
        failure) at the current simulated time, with the factory's value. A value a client
        wrote is no longer held: the next sync rewrites a good value from the factory."""
        var = self._variable(tag_path)
        assert self._server is not None  # _variable checked it runs
        stamp = ns_to_datetime(self.factory.now_ns)
        value = _typed(self.factory.value(var.path), var.variant)
        self._last[self._variables.index(var)] = None
        var.held = False
        dv = ua.DataValue(
            ua.Variant(value, var.variant),
            StatusCode=ua.StatusCode(ua.UInt32(status)),
            SourceTimestamp=stamp,
            ServerTimestamp=stamp,
        )
        await self._server.write_attribute_value(var.node_id, dv)

    async def read(self, tag_path: str) -> float:
        """The value the variable of ``tag_path`` holds now: a client's write, or the
        factory's value at the last sync (a bool as 0 or 1; NaN if it holds none)."""
        var = self._variable(tag_path)
        assert self._server is not None  # _variable checked it runs
        dv = self._server.read_attribute_value(var.node_id)
        value = dv.Value.Value if dv.Value is not None else None
        return float(value) if isinstance(value, int | float) else float("nan")

    def _variable(self, tag_path: str) -> _Variable:
        if self._server is None or not self._running:
            raise SimServerError(f"OPC UA server on {self.endpoint} is not running")
        var = next((v for v in self._variables if v.path == tag_path), None)
        if var is None:
            raise SimConfigError(f"no served tag {tag_path!r}")
        return var

    # -- client writes ----------------------------------------------------------------

    def _stamp_writes(self, event: ServerItemCallback, _: CallbackService) -> None:
        """Stamp a client's values with the simulated time, like every value served.

        Runs before the server checks access: a refused write changes nothing anyway."""
        if not event.is_external:
            return
        stamp = ns_to_datetime(self.factory.now_ns)
        for wv in event.request_params.NodesToWrite:
            if wv.AttributeId == AttributeIds.Value and wv.NodeId in self._by_node:
                wv.Value = dataclasses.replace(wv.Value, SourceTimestamp=stamp)

    def _hold_writes(self, event: ServerItemCallback, _: CallbackService) -> None:
        """Hold what clients wrote: the factory no longer overwrites it."""
        if not event.is_external:
            return
        writes = zip(event.request_params.NodesToWrite, event.response_params, strict=True)
        for wv, status in writes:
            var = self._by_node.get(wv.NodeId)
            if var is not None and wv.AttributeId == AttributeIds.Value and status.is_good():
                if not var.held:
                    log.info("OPC UA client wrote %s: held from now on", var.path)
                var.held = True

    # -- address space ----------------------------------------------------------------

    async def _build(self) -> Server:
        server = Server(user_manager=_PasswordUsers(self.users) if self.users else None)
        await server.init()
        server.disable_clock()  # its 1 s time loop would make every stop() wait a second
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"FactoryOS simulator {self.factory.site.site.name}")
        tokens: list[type] = [ua.UserNameIdentityToken if self.users else ua.AnonymousIdentityToken]
        server.set_identity_tokens(tokens)
        await self._secure(server)
        index = await server.register_namespace(namespace_uri(self.factory.site.site.name))
        if index != NAMESPACE_INDEX:
            raise SimServerError(f"simulator namespace got index {index}, not {NAMESPACE_INDEX}")
        await self._add_nodes(server)
        server.subscribe_server_callback(CallbackType.PreWrite, self._stamp_writes)
        server.subscribe_server_callback(CallbackType.PostWrite, self._hold_writes)
        return server

    async def _secure(self, server: Server) -> None:
        sec = self.security
        if sec is None:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            return
        server.set_security_policy(sec.policies())
        await server.load_certificate(str(sec.certificate))
        await server.load_private_key(str(sec.private_key))
        store = TrustStore([sec.trusted], [])
        try:
            await store.load()
        except (OSError, ValueError) as exc:
            raise SimConfigError(f"trust list {sec.trusted}: {exc}") from exc
        options = (
            CertificateValidatorOptions.TIME_RANGE
            | CertificateValidatorOptions.URI
            | CertificateValidatorOptions.TRUSTED
            | CertificateValidatorOptions.PEER_CLIENT
        )
        server.set_certificate_validator(CertificateValidator(options, store))

    async def _add_nodes(self, server: Server) -> None:
        idx = NAMESPACE_INDEX
        folders: dict[str, Node] = {}
        for ref in self.factory.tag_refs():
            *levels, name = ref.path.split("/")
            parent = server.nodes.objects
            for depth in range(1, len(levels) + 1):
                path = "/".join(levels[:depth])
                if path not in folders:
                    qname = ua.QualifiedName(levels[depth - 1], idx)
                    nid = _string_node(path, idx)
                    is_eq = depth == len(levels)
                    folders[path] = await (
                        parent.add_object(nid, qname) if is_eq else parent.add_folder(nid, qname)
                    )
                parent = folders[path]
            var = await self._add_variable(parent, ref.path, name, ref.tag)
            self._variables.append(var)
            self._by_node[var.node_id] = var

    async def _add_variable(self, parent: Node, path: str, name: str, tag: Tag) -> _Variable:
        idx = NAMESPACE_INDEX
        vtype = variant_type(tag)
        node = await parent.add_variable(
            _string_node(path, idx), ua.QualifiedName(name, idx), _typed(0.0, vtype), vtype
        )
        if tag.description:
            await node.write_attribute(
                AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(tag.description))),
            )
        if tag.unit:
            unit = ua.EUInformation(DisplayName=ua.LocalizedText(tag.unit))
            await node.add_property(
                _string_node(f"{path}#EngineeringUnits", idx),
                ua.QualifiedName("EngineeringUnits", 0),
                unit,
            )
        if tag.writable:
            await node.set_writable()  # for clients; the server itself always may
        return _Variable(path, node.nodeid, vtype)


def _string_node(identifier: str, namespace: int) -> ua.NodeId:
    return ua.NodeId(ua.String(identifier), ua.Int16(namespace))


def _typed(value: float, variant: ua.VariantType) -> bool | int | float:
    if variant == ua.VariantType.Boolean:
        return value >= 0.5
    if variant in (ua.VariantType.Float, ua.VariantType.Double):
        return value
    return int(value)
