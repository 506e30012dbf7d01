"""Issuing carbon reports: the period's imported electricity read from its meters, the
user's activity data (fuel invoices) and contractual instruments, the factor library read
again from its file, one inventory, stored as a new immutable version (see
:mod:`factoryos.store.carbon_reports`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from factoryos.apps.energy.carbon import (
    ElectricityEvidence,
    Metered,
    Period,
    coverage_note,
    document,
    period_of,
)
from factoryos.apps.energy.config import CarbonSpec, PactSpec
from factoryos.apps.energy.demand import Window
from factoryos.apps.energy.errors import AllocationError, EnergyError, EnergyQueryError
from factoryos.apps.energy.footprint import Footprint
from factoryos.apps.energy.inventory import (
    Activity,
    Electricity,
    Instrument,
    emission_kg,
    inventory,
)
from factoryos.apps.energy.lots import Lot, MaterialFactor, lot_footprint, lots
from factoryos.apps.energy.pact import PactCompany, PactProduct, product_footprint
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.trace.epcis.query import run_query
from factoryos.apps.trace.epcis.query_params import parse_query
from factoryos.apps.trace.production import LinePlan
from factoryos.model.timeparse import format_ns
from factoryos.store.carbon_reports import CarbonReports, CarbonReportVersion
from factoryos.store.epcis_query import EpcisQueries

#: A lot's window must be this fully measured for its footprint.
MIN_LOT_COVERAGE = 0.99
#: How long after a range a lot that started in it may finish.
LOT_FINISH_NS = 86_400 * 1_000_000_000
MAX_EVENTS = 20_000
MAX_LOT_RANGE_NS = 93 * LOT_FINISH_NS


@dataclass(frozen=True, slots=True)
class LotFootprint:
    line: str
    place: str  # where the lot's energy was measured: the line of its unit counter
    lot: Lot
    coverage: float
    footprint: Footprint


class CarbonService:
    """Carbon reports of one site for one tenant."""

    def __init__(
        self,
        spec: CarbonSpec,
        apps_source: str,
        energy: EnergyService,
        reports: CarbonReports,
        tenant_id: int,
        site: str,
        lines: Mapping[str, LinePlan] | None = None,
        events: EpcisQueries | None = None,
    ) -> None:
        self.spec = spec
        self._lines = dict(lines or {})
        self._events = events
        self._apps_source = apps_source
        self._energy = energy
        self._reports = reports
        self._tenant_id = tenant_id
        self.site = site

    def period(self, name: str) -> Period:
        return period_of(name, ZoneInfo(self.spec.timezone))

    def electricity(self, period: Period) -> ElectricityEvidence:
        """The imported electricity of each day (or month) of ``period``, as measured."""
        place = self.spec.electricity.place
        windows = [(p.label, Window(p.start_ns, p.end_ns)) for p in period.parts]
        rows = {r.key: r for r in self._energy.rows(place, windows)}
        parts = tuple(
            Metered(p.label, p.start_ns, p.end_ns, rows[p.label].kwh, rows[p.label].coverage)
            for p in period.parts
        )
        meters = self._energy.section.meters
        names = self._energy.meters_of(place)
        return ElectricityEvidence(place, tuple((n, meters[n].tag) for n in names), parts)

    def draft(
        self,
        period_name: str,
        activities: Sequence[Activity] = (),
        instruments: Sequence[Instrument] = (),
        now_ns: int | None = None,
    ) -> dict[str, Any]:
        """The report of ``period_name`` as it would be issued now (nothing stored)."""
        period = self.period(period_name)
        if now_ns is not None and period.start_ns >= now_ns:
            raise EnergyQueryError(f"period {period_name!r} has not started yet")
        lib = self.spec.library(self._apps_source)
        evidence = self.electricity(period)
        spec = self.spec.electricity
        use = Electricity(
            id="electricity",
            kwh=evidence.kwh,
            grid_factor=spec.grid_factor,
            instruments=tuple(instruments),
            residual_factor=spec.residual_factor,
            evidence=evidence.describe(self.spec.timezone),
        )
        inv = inventory(
            lib, period.start_ns, period.end_ns, activities, [use], gwp_set=self.spec.gwp
        )
        doc = document(
            inv,
            site=self.site,
            period=period,
            timezone=self.spec.timezone,
            organization=self.spec.organization,
            boundary=self.spec.boundary,
            electricity=evidence,
            activities=activities,
            instruments=instruments,
        )
        doc["electricity"]["note"] = coverage_note(evidence.coverage)
        return doc

    def issue(
        self,
        period_name: str,
        activities: Sequence[Activity],
        instruments: Sequence[Instrument],
        actor: str,
        now: datetime,
    ) -> tuple[CarbonReportVersion, bool]:
        """Issue the report: a new version unless the newest holds the same content."""
        now_ns = int(now.timestamp() * 1e9)
        doc = self.draft(period_name, activities, instruments, now_ns)
        digest = doc["factor_set"]["digest"]
        return self._reports.issue(self._tenant_id, self.site, period_name, doc, digest, actor, now)

    def versions(self, period: str | None = None) -> list[CarbonReportVersion]:
        return self._reports.versions(self._tenant_id, self.site, period)

    def get(self, period: str, version: int) -> CarbonReportVersion:
        return self._reports.get(self._tenant_id, self.site, period, version)

    # -- product footprints of the trace lines' lots ------------------------------------------

    def _pact(self) -> PactSpec:
        if self.spec.pact is None or self._events is None:
            raise EnergyQueryError("no product footprints configured (energy: carbon: pact:)")
        return self.spec.pact

    def _plan(self, line: str) -> LinePlan:
        self._pact()
        plan = self._lines.get(line)
        if plan is None:
            raise EnergyQueryError(f"no trace line {line!r} (known: {sorted(self._lines)})")
        return plan

    def _line_events(self, plan: LinePlan, a: int, b: int) -> list[dict[str, Any]]:
        """The line's transformation events in ``[a, b)``, oldest first."""
        assert self._events is not None
        params = {
            "eventType": ["TransformationEvent"],
            "EQ_readPoint": [plan.unit_point],
            "GE_eventTime": [format_ns(a)],
            "LT_eventTime": [format_ns(b)],
            "orderBy": ["eventTime"],
            "orderDirection": ["ASC"],
            "perPage": ["1000"],
        }
        out: list[dict[str, Any]] = []
        while len(out) < MAX_EVENTS:
            page = run_query(self._events, self._tenant_id, parse_query(params))
            out += page.events
            if page.next_token is None:
                return out
            params["nextPageToken"] = [page.next_token]
        raise EnergyQueryError(f"more than {MAX_EVENTS} lot events: ask for a shorter range")

    def _kg_per_kwh(self) -> tuple[float, tuple[str, str]]:
        lib = self.spec.library(self._apps_source)
        grid = lib.get(self.spec.electricity.grid_factor, "carbon electricity")
        where = f"electricity factor {grid.id}"
        if grid.gas is None:  # the library file changed since the section was checked
            raise EnergyError(f"{where} is a conversion in {lib.library}: fix the library")
        per_kwh = emission_kg(1.0, "kWh", (grid,), where)
        return per_kwh * lib.gwp_of(self.spec.gwp, grid.gas, where), (lib.library, lib.version)

    def lot_footprints(self, line: str, a: int, b: int) -> list[LotFootprint]:
        """The footprint of every lot of ``line`` started in ``[a, b)`` and finished."""
        if not 0 < b - a <= MAX_LOT_RANGE_NS:
            raise EnergyQueryError("a lot range must end after it starts and span ≤ 93 days")
        plan = self._plan(line)
        product = self._pact().products.get(line)
        if product is None:
            raise EnergyQueryError(f"trace line {line!r} has no product in carbon: pact:")
        found = [x for x in lots(self._line_events(plan, a, b + LOT_FINISH_NS)) if x.start_ns < b]
        place = "/".join(plan.unit_tag.split("/")[:3])
        windows = [(x.lot, Window(x.start_ns, x.end_ns)) for x in found]
        energy = {r.key: r for r in self._energy.rows(place, windows)}
        kg_per_kwh, _ = self._kg_per_kwh()
        material_of = {lot: m.name for m in plan.materials for lot in m.lots}
        factors = {
            name: MaterialFactor(f.kg_co2e, f.per, f.source)
            for name, f in product.materials.items()
        }
        return [
            LotFootprint(
                line,
                place,
                x,
                energy[x.lot].coverage,
                lot_footprint(x, product.name, energy[x.lot].kwh, kg_per_kwh, material_of, factors),
            )
            for x in found
        ]

    def pact(self, line: str, lot: str, a: int, b: int, created_ns: int) -> dict[str, Any]:
        """The PACT ProductFootprint of one lot of ``line`` started in ``[a, b)``."""
        spec = self._pact()
        match = [f for f in self.lot_footprints(line, a, b) if f.lot.lot == lot]
        if not match:
            raise EnergyQueryError(f"no finished lot {lot!r} of line {line!r} started in range")
        (found,) = match
        if found.coverage < MIN_LOT_COVERAGE:
            raise AllocationError(
                f"lot {lot}: the meters of {found.place} measured {100 * found.coverage:.1f} % "
                "of its window; a footprint needs it measured"
            )
        product = spec.products[line]
        company = spec.company
        _, factor_set = self._kg_per_kwh()
        return product_footprint(
            found.footprint,
            PactCompany(company.name, tuple(company.ids), company.country, company.subdivision),
            PactProduct(
                product.name,
                product.description,
                tuple(product.ids),
                product.cpc,
                product.unit_mass_kg,
                product.fossil_carbon_kg_per_kg,
                product.biogenic_carbon_kg_per_kg,
            ),
            (found.lot.start_ns, found.lot.end_ns),
            created_ns,
            factor_set,
            self.spec.gwp,
        )
