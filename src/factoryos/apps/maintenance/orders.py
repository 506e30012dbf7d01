"""The work-order service: opening orders from anomalies, RUL forecasts and people, moving
them through their life cycle (:mod:`.workorders`), and what they give back: maintenance
windows for production scheduling and labelled intervals for the next training run.

Automatic orders are de-duplicated: while an anomaly (or RUL) order of an equipment is
live (open, assigned, in progress), a new detection of the same kind appends its evidence to
that order instead of opening another (and brings its due date forward when it is more
urgent). The store's unique live key makes this hold across processes too.

Every change names the version of the order it was based on; an order changed since is
refused with :class:`WorkOrderConflictError`. Synchronous, like the catalog: call it from a
worker thread, never from the event loop.
"""

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field, field_validator

from factoryos.apps.maintenance import workorders as wo
from factoryos.apps.maintenance.workorders import (
    DEFAULT_FAILURE_CODES,
    Evidence,
    Label,
    Source,
    Status,
    Window,
    WorkOrder,
    WorkOrderConflictError,
    WorkOrderError,
    WorkOrderNotFoundError,
)
from factoryos.store.catalog import CatalogInputError
from factoryos.store.work_orders import (
    MAX_TITLE,
    LiveOrderExistsError,
    OrderFilter,
    OrderNotFoundError,
    OrderPage,
    OrderRecord,
    StaleOrderError,
    Transition,
    WorkOrderStore,
)

log = logging.getLogger(__name__)

NS_PER_H = 3600 * 10**9
_RETRIES = 5  # reads of a live order that keeps changing under a detector before giving up
_CODE = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"


class OrdersConfig(BaseModel):
    """The ``maintenance.work_orders`` settings (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_codes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FAILURE_CODES),
        description="The codes a closing technician may give (default: ISO 14224 modes).",
        min_length=1,
    )
    anomaly_due_h: float = Field(default=48.0, gt=0, allow_inf_nan=False)
    rul_threshold_h: float = Field(default=168.0, gt=0, allow_inf_nan=False)
    rul_due_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Due after this share of the forecast RUL."
    )
    anomaly_action: str = Field(
        default="inspect the equipment for the deviating signals in the evidence",
        max_length=wo.MAX_TEXT,
    )
    rul_action: str = Field(
        default="plan the replacement of the wearing part before its forecast end of life",
        max_length=wo.MAX_TEXT,
    )

    @field_validator("failure_codes")
    @classmethod
    def _codes(cls, codes: dict[str, str]) -> dict[str, str]:
        bad = [c for c in codes if not re.fullmatch(_CODE, c)]
        if bad:
            raise ValueError(f"codes {bad}: 1 to 32 of A-Z 0-9 _ -, starting with a letter/digit")
        return codes


@dataclass(frozen=True, slots=True)
class Opened:
    """What a detection did: opened ``order`` (``created``) or added evidence to it."""

    order: OrderRecord
    created: bool


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """Planned downtime of an equipment that production scheduling must keep free."""

    equipment: str
    start_ns: int
    end_ns: int
    order_id: int
    number: str
    status: str
    title: str


def _pure(r: OrderRecord) -> WorkOrder:
    """The life-cycle view of a stored order."""
    window = None
    if r.window_start_ns is not None and r.window_end_ns is not None:
        window = Window(r.window_start_ns, r.window_end_ns)
    return WorkOrder(
        equipment=r.equipment,
        source=Source(r.source),
        evidence=r.evidence,
        suggested_action=r.suggested_action,
        due_ns=r.due_ns,
        opened_ns=r.created_ns,
        status=Status(r.status),
        assignee=r.assignee,
        window=window,
        failure_code=r.failure_code,
        cause=r.cause,
        closed_ns=r.closed_ns,
        id=r.id,
    )


def _stored(r: OrderRecord, o: WorkOrder, now_ns: int) -> OrderRecord:
    """``r`` with the life-cycle fields of ``o``."""
    return replace(
        r,
        status=str(o.status),
        assignee=o.assignee,
        window_start_ns=o.window.start_ns if o.window else None,
        window_end_ns=o.window.end_ns if o.window else None,
        failure_code=o.failure_code,
        cause=o.cause,
        closed_ns=o.closed_ns,
        updated_ns=now_ns,
    )


def _name(equipment: str) -> str:
    return equipment.rsplit("/", 1)[-1]


class WorkOrders:
    """Work orders of every tenant over one store; each call names its tenant."""

    def __init__(
        self,
        store: WorkOrderStore,
        config: OrdersConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.config = config or OrdersConfig()
        self._clock = clock

    # -- opening ---------------------------------------------------------------------

    def open_from_anomaly(
        self,
        tenant_id: int,
        equipment: str,
        *,
        at_ns: int,
        summary: str,
        data: Mapping[str, object] | None = None,
        model_version: str | None = None,
        actor: str = "anomaly detector",
    ) -> Opened:
        """Open an anomaly order on ``equipment`` (due ``anomaly_due_h`` after ``at_ns``), or
        add this evidence to its live one."""
        evidence = Evidence(at_ns, summary, dict(data or {}))
        due = at_ns + round(self.config.anomaly_due_h * NS_PER_H)
        title = f"Anomaly on {_name(equipment)}: {summary}"
        return self._open_auto(
            tenant_id, equipment, Source.ANOMALY, evidence, due, title, model_version, actor
        )

    def open_from_rul(
        self,
        tenant_id: int,
        equipment: str,
        *,
        at_ns: int,
        rul_h: float,
        summary: str = "",
        data: Mapping[str, object] | None = None,
        model_version: str | None = None,
        actor: str = "rul forecaster",
    ) -> Opened | None:
        """Open (or add evidence to) a RUL order when the forecast ``rul_h`` is below the
        threshold; None, changing nothing, when it is not. Due after ``rul_due_fraction`` of
        the forecast life, so the work is done before the part runs out."""
        if not rul_h >= 0 or rul_h == float("inf"):
            raise WorkOrderError(f"rul_h: {rul_h} is not a number of hours >= 0")
        if rul_h >= self.config.rul_threshold_h:
            return None
        text = summary or f"forecast RUL {rul_h:.1f} h < {self.config.rul_threshold_h:g} h"
        evidence = Evidence(at_ns, text, {"rul_h": rul_h, **(data or {})})
        due = at_ns + round(rul_h * self.config.rul_due_fraction * NS_PER_H)
        title = f"RUL {rul_h:.0f} h on {_name(equipment)}"
        return self._open_auto(
            tenant_id, equipment, Source.RUL, evidence, due, title, model_version, actor
        )

    def open_manual(
        self,
        tenant_id: int,
        equipment: str,
        *,
        title: str,
        suggested_action: str,
        due_ns: int,
        actor: str,
        summary: str = "",
        data: Mapping[str, object] | None = None,
    ) -> OrderRecord:
        """A person's order: never de-duplicated (two tasks on one machine are two orders)."""
        self._known(tenant_id, equipment)
        now = self._clock()
        items = (Evidence(now, summary, dict(data or {})),) if summary or data else ()
        record = self._new(
            equipment, title, Source.MANUAL, items, suggested_action, due_ns, now, None
        )
        return self._insert(tenant_id, record, actor, summary)

    def _open_auto(
        self,
        tenant_id: int,
        equipment: str,
        source: Source,
        evidence: Evidence,
        due_ns: int,
        title: str,
        model_version: str | None,
        actor: str,
    ) -> Opened:
        self._known(tenant_id, equipment)
        for _ in range(_RETRIES):
            live = self.store.find_live(tenant_id, equipment, source)
            if live is not None:
                try:
                    return Opened(
                        self._add_evidence(tenant_id, live, evidence, due_ns, actor), False
                    )
                except StaleOrderError:
                    continue  # a planner moved it meanwhile: read it again
            action = (
                self.config.anomaly_action if source is Source.ANOMALY else self.config.rul_action
            )
            now = self._clock()
            record = self._new(
                equipment, title, source, (evidence,), action, max(due_ns, now), now, model_version
            )
            try:
                return Opened(self._insert(tenant_id, record, actor, evidence.summary), True)
            except LiveOrderExistsError:
                continue  # another process opened it first: append to that one
        raise WorkOrderConflictError(
            f"equipment {equipment!r}: its {source} order kept changing; evidence not added"
        )

    def _add_evidence(
        self, tenant_id: int, live: OrderRecord, evidence: Evidence, due_ns: int, actor: str
    ) -> OrderRecord:
        items = wo.with_evidence(wo.parse_evidence(live.evidence), evidence)
        changed = replace(
            live,
            evidence=wo.evidence_json(items),
            due_ns=min(live.due_ns, max(due_ns, live.created_ns)),
            updated_ns=self._clock(),
        )
        step = Transition(
            changed.updated_ns, actor, "evidence", live.status, live.status, evidence.summary
        )
        return self.store.update(tenant_id, changed, live.version, step)

    def _new(
        self,
        equipment: str,
        title: str,
        source: Source,
        items: tuple[Evidence, ...],
        action: str,
        due_ns: int,
        now_ns: int,
        model_version: str | None,
    ) -> OrderRecord:
        # Built through the pure model first: its checks (due, sizes) name the field.
        order = WorkOrder(equipment, source, wo.evidence_json(items), action, due_ns, now_ns)
        return OrderRecord(
            equipment=order.equipment,
            title=title[:MAX_TITLE],
            source=str(source),
            evidence=order.evidence,
            suggested_action=action,
            due_ns=due_ns,
            status=str(Status.OPEN),
            created_ns=now_ns,
            updated_ns=now_ns,
            model_version=model_version,
        )

    def _insert(self, tenant_id: int, record: OrderRecord, actor: str, comment: str) -> OrderRecord:
        opened = Transition(record.created_ns, actor, "open", None, record.status, comment)
        try:
            stored = self.store.insert(tenant_id, record, opened)
        except CatalogInputError as exc:
            raise WorkOrderError(str(exc)) from exc
        log.info("work order %s opened on %s (%s)", stored.number, stored.equipment, stored.source)
        return stored

    def _known(self, tenant_id: int, equipment: str) -> None:
        if not self.store.equipment_exists(tenant_id, equipment):
            raise WorkOrderError(f"equipment: no equipment {equipment!r} in the tenant's sites")

    # -- the life cycle ----------------------------------------------------------------

    def assign(
        self,
        tenant_id: int,
        order_id: int,
        version: int,
        *,
        assignee: str,
        window: Window | None,
        actor: str,
        comment: str = "",
    ) -> OrderRecord:
        """Give the order to ``assignee`` (again: hand it over) with its downtime window."""
        return self._move(
            tenant_id, order_id, version, "assign", lambda o, _: wo.assign(o, assignee, window),
            actor, comment,
        )  # fmt: skip

    def start(
        self, tenant_id: int, order_id: int, version: int, *, actor: str, comment: str = ""
    ) -> OrderRecord:
        return self._move(
            tenant_id, order_id, version, "start", lambda o, _: wo.start(o), actor, comment
        )

    def close(
        self,
        tenant_id: int,
        order_id: int,
        version: int,
        *,
        failure_code: str,
        cause: str,
        actor: str,
        comment: str = "",
    ) -> OrderRecord:
        """Done: ``failure_code`` (one of the configured catalog) and ``cause`` are labels."""
        codes = self.config.failure_codes
        return self._move(
            tenant_id, order_id, version, "close",
            lambda o, now: wo.close(o, failure_code, cause, now, codes), actor, comment,
        )  # fmt: skip

    def cancel(
        self, tenant_id: int, order_id: int, version: int, *, reason: str, actor: str
    ) -> OrderRecord:
        return self._move(
            tenant_id, order_id, version, "cancel",
            lambda o, now: wo.cancel(o, reason, now), actor, reason,
        )  # fmt: skip

    def _move(
        self,
        tenant_id: int,
        order_id: int,
        version: int,
        action: str,
        step: Callable[[WorkOrder, int], WorkOrder],
        actor: str,
        comment: str,
    ) -> OrderRecord:
        current = self.get(tenant_id, order_id)
        if current.version != version:
            raise self._stale(order_id, version, current.version)
        now = self._clock()
        moved = step(_pure(current), now)
        changed = _stored(current, moved, now)
        change = Transition(now, actor, action, current.status, changed.status, comment)
        try:
            stored = self.store.update(tenant_id, changed, version, change)
        except StaleOrderError as exc:
            raise self._stale(order_id, version, exc.current) from exc
        except OrderNotFoundError as exc:
            raise WorkOrderNotFoundError(str(exc)) from exc
        except CatalogInputError as exc:
            raise WorkOrderError(str(exc)) from exc
        log.info(
            "work order %s: %s → %s by %s", stored.number, current.status, stored.status, actor
        )
        return stored

    @staticmethod
    def _stale(order_id: int, expected: int, current: int) -> WorkOrderConflictError:
        return WorkOrderConflictError(
            f"version: work order {order_id} is at version {current}, not {expected}: "
            "someone changed it since; read it again"
        )

    # -- reads -------------------------------------------------------------------------

    def get(self, tenant_id: int, order_id: int) -> OrderRecord:
        try:
            return self.store.get(tenant_id, order_id)
        except OrderNotFoundError as exc:
            raise WorkOrderNotFoundError(str(exc)) from exc

    def history(self, tenant_id: int, order_id: int) -> list[Transition]:
        """The order's transition log, oldest first."""
        self.get(tenant_id, order_id)
        return self.store.transitions(tenant_id, order_id)

    def orders(
        self,
        tenant_id: int,
        where: OrderFilter | None = None,
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> OrderPage:
        """Matching orders newest first (keyset paging by ``before``, as the store's)."""
        try:
            return self.store.query(tenant_id, where or OrderFilter(), before=before, limit=limit)
        except CatalogInputError as exc:
            raise WorkOrderError(str(exc)) from exc

    def maintenance_windows(
        self, tenant_id: int, equipment: str | None = None, *, start_ns: int, end_ns: int
    ) -> list[MaintenanceWindow]:
        """Planned downtime of live orders overlapping ``[start_ns, end_ns)``, by start."""
        if start_ns >= end_ns:
            raise WorkOrderError(f"start: {start_ns} ns is not before end {end_ns} ns")
        found = self.store.windows(
            tenant_id, None if equipment is None else [equipment], start_ns, end_ns
        )
        return [
            MaintenanceWindow(
                r.equipment,
                r.window_start_ns or 0,
                r.window_end_ns or 0,
                r.id,
                r.number,
                r.status,
                r.title,
            )
            for r in found
        ]

    def training_labels(self, tenant_id: int, equipment: str) -> list[Label]:
        """The closed orders of ``equipment`` as labelled intervals, oldest first."""
        labels = (wo.label_of(_pure(r)) for r in self.store.closed(tenant_id, equipment))
        return [label for label in labels if label is not None]


__all__ = ["MaintenanceWindow", "Opened", "OrdersConfig", "WorkOrders"]
