"""The runtime objects the API serves from, built by whoever starts the server."""

from dataclasses import dataclass, field
from typing import Protocol

from factoryos.api.tokens import TokenIssuer
from factoryos.apps.alarms.processor import AlarmProcessor
from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.apps.oee.service import OeeService
from factoryos.apps.scheduling.service import SchedulingService
from factoryos.apps.trace.spc.service import SpcService
from factoryos.bus.inprocess import InProcessBus
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import Catalog
from factoryos.store.users import Users
from factoryos.twin.node import IdentifierNode


class TagWriter(Protocol):
    """Writes a setpoint through the tag's driver; returns the value the device now holds."""

    async def write(self, tag_id: int, value: float) -> float: ...


@dataclass(frozen=True)
class OeeApp:
    """The OEE of the platform's site, answered for its tenant only."""

    tenant: str
    service: OeeService


@dataclass(frozen=True)
class EnergyApp:
    """Energy metering of the platform's site, answered for its tenant only."""

    tenant: str
    service: EnergyService
    carbon: CarbonService | None = None
    """Carbon reports, when the energy section has a ``carbon:`` part."""


@dataclass(frozen=True)
class Services:
    """What ``create_app`` needs: metadata, time series, the live bus, where this process
    runs the drivers the way to write setpoints, and the user token signer."""

    catalog: Catalog
    store: TimeSeriesStore
    bus: InProcessBus
    writer: TagWriter | None = None
    tokens: TokenIssuer | None = None
    """Signs users' access tokens; None: only API keys are accepted (no user login)."""
    oee: OeeApp | None = None
    """OEE, when the apps file has an ``oee:`` section."""
    alarms: AlarmProcessor | None = None
    """The live alarms, when the apps file has an ``alarms:`` section."""
    maintenance: MaintenanceApp | None = None
    """Predictive maintenance, when the apps file has a ``maintenance:`` section."""
    scheduling: SchedulingService = field(default_factory=SchedulingService)
    """Production scheduling's solve jobs (in memory: a restart forgets them). Always there:
    its worker threads start with the first job and end when idle."""
    identifiers: IdentifierNode | None = None
    """The identifier registry and resolver; None: the API makes one over ``catalog`` with
    the ``FACTORYOS_RESOLVER_*`` settings on first use (docs/identifiers.md)."""
    spc: SpcService | None = None
    """Statistical process control, when the apps file has an ``spc:`` section."""
    energy: EnergyApp | None = None
    """Energy metering, when the apps file has an ``energy:`` section."""

    @property
    def users(self) -> Users:
        return Users(self.catalog)
