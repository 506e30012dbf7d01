"""The work-order service over a real migrated catalog (SQLite file): opening from anomalies
and RUL forecasts with de-duplication, the life cycle with optimistic concurrency, the
windows scheduling sees and the labels training gets."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryos.apps.maintenance.orders import OrdersConfig, WorkOrders
from factoryos.apps.maintenance.workorders import (
    MAX_EVIDENCE_ITEMS,
    Label,
    Source,
    TransitionError,
    Window,
    WorkOrderConflictError,
    WorkOrderError,
    WorkOrderNotFoundError,
    parse_evidence,
)
from factoryos.model.site import parse_site
from factoryos.store.catalog import Catalog
from factoryos.store.work_orders import OrderFilter, WorkOrderStore
from support.sites import site_yaml

H = 3600 * 10**9
T0 = 1_736_150_400 * 10**9  # 2025-01-06T08:00:00Z
CNC1 = "plant1/machining/line1/cell1/cnc-01"
CNC2 = "plant1/machining/line1/cell1/cnc-02"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    c.migrate()
    c.register_site(parse_site(site_yaml("acme")))
    c.register_site(parse_site(site_yaml("globex")))
    yield c
    c.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def orders(catalog: Catalog, clock: Clock) -> WorkOrders:
    return WorkOrders(WorkOrderStore(catalog), clock=clock)


@pytest.fixture
def acme(catalog: Catalog) -> int:
    return catalog.tenant_id("acme") or 0


def test_an_anomaly_opens_one_order_and_later_ones_add_evidence(
    orders: WorkOrders, acme: int, clock: Clock
) -> None:
    first = orders.open_from_anomaly(
        acme, CNC1, at_ns=T0, summary="T² 4.2× threshold", data={"score": 4.2},
        model_version="anomaly/cnc-01@3",
    )  # fmt: skip
    clock.now += H
    again = orders.open_from_anomaly(acme, CNC1, at_ns=T0 + H, summary="T² 5.0×")

    assert first.created and not again.created
    assert again.order.id == first.order.id and again.order.version == 2
    o = again.order
    assert (o.source, o.status, o.model_version) == ("anomaly", "open", "anomaly/cnc-01@3")
    assert o.due_ns == T0 + 48 * H  # the first detection's due date stands
    assert o.title.startswith("Anomaly on cnc-01: ")
    assert [(e.at_ns, e.summary) for e in parse_evidence(o.evidence)] == [
        (T0, "T² 4.2× threshold"),
        (T0 + H, "T² 5.0×"),
    ]
    assert [t.action for t in orders.history(acme, o.id)] == ["open", "evidence"]
    assert len(orders.orders(acme).orders) == 1


def test_dedupe_is_per_equipment_and_source_and_ends_with_the_order(
    orders: WorkOrders, acme: int
) -> None:
    a = orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="a").order
    assert orders.open_from_anomaly(acme, CNC2, at_ns=T0, summary="b").created
    rul = orders.open_from_rul(acme, CNC1, at_ns=T0, rul_h=40.0)
    assert rul is not None and rul.created and rul.order.id != a.id

    orders.cancel(acme, a.id, a.version, reason="sensor glitch", actor="maria")
    assert orders.open_from_anomaly(acme, CNC1, at_ns=T0 + H, summary="c").created


def test_rul_opens_below_the_threshold_only_and_brings_the_due_date_forward(
    orders: WorkOrders, acme: int, clock: Clock
) -> None:
    assert orders.open_from_rul(acme, CNC1, at_ns=T0, rul_h=500.0) is None  # ≥ 168 h
    assert orders.orders(acme).orders == []

    opened = orders.open_from_rul(acme, CNC1, at_ns=T0, rul_h=100.0, model_version="rul@1")
    assert opened is not None and opened.order.due_ns == T0 + 50 * H  # half the forecast life
    clock.now += 10 * H
    worse = orders.open_from_rul(acme, CNC1, at_ns=T0 + 10 * H, rul_h=20.0)
    assert worse is not None and not worse.created
    assert worse.order.due_ns == T0 + 20 * H
    items = parse_evidence(worse.order.evidence)
    assert [e.data["rul_h"] for e in items] == [100.0, 20.0]
    with pytest.raises(WorkOrderError, match="rul_h: nan"):
        orders.open_from_rul(acme, CNC1, at_ns=T0, rul_h=float("nan"))


def test_evidence_stays_bounded_and_keeps_the_onset(orders: WorkOrders, acme: int) -> None:
    for i in range(MAX_EVIDENCE_ITEMS + 30):
        orders.open_from_anomaly(acme, CNC1, at_ns=T0 + i * H, summary=f"#{i}", data={"i": i})
    (order,) = orders.orders(acme).orders
    items = parse_evidence(order.evidence)
    assert len(items) == MAX_EVIDENCE_ITEMS
    assert items[0].summary == "#0"  # the onset, where the label starts
    assert items[-1].summary == f"#{MAX_EVIDENCE_ITEMS + 29}"
    assert len(orders.history(acme, order.id)) == MAX_EVIDENCE_ITEMS + 30  # the log keeps all


def test_the_life_cycle_with_versions_and_its_log(
    orders: WorkOrders, acme: int, clock: Clock
) -> None:
    o = orders.open_manual(
        acme, CNC2, title="replace coolant filter", suggested_action="swap filter F2",
        due_ns=T0 + 72 * H, actor="planner-key",
    )  # fmt: skip
    assert (o.source, o.number, o.evidence) == ("manual", f"WO-{o.id:06d}", "[]")
    window = Window(T0 + 24 * H, T0 + 26 * H)
    o = orders.assign(acme, o.id, o.version, assignee="maria", window=window, actor="planner")
    clock.now += 24 * H
    o = orders.start(acme, o.id, o.version, actor="maria", comment="on site")
    clock.now += H
    o = orders.close(
        acme, o.id, o.version, failure_code="BRD", cause="clogged filter", actor="maria"
    )
    assert (o.status, o.failure_code, o.cause, o.closed_ns) == (
        "closed", "BRD", "clogged filter", T0 + 25 * H,
    )  # fmt: skip
    log = orders.history(acme, o.id)
    assert [(t.action, t.from_status, t.to_status, t.actor) for t in log] == [
        ("open", None, "open", "planner-key"),
        ("assign", "open", "assigned", "planner"),
        ("start", "assigned", "in_progress", "maria"),
        ("close", "in_progress", "closed", "maria"),
    ]
    assert log[2].comment == "on site"


def test_a_stale_version_is_refused_and_changes_nothing(orders: WorkOrders, acme: int) -> None:
    o = orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x").order
    orders.assign(acme, o.id, o.version, assignee="maria", window=None, actor="planner a")
    with pytest.raises(WorkOrderConflictError, match="at version 2, not 1"):
        orders.assign(acme, o.id, o.version, assignee="jon", window=None, actor="planner b")
    assert orders.get(acme, o.id).assignee == "maria"
    assert len(orders.history(acme, o.id)) == 2


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        (lambda s, t, o: s.start(t, o.id, o.version, actor="x"), TransitionError,
         "cannot start when open"),
        (lambda s, t, o: s.close(t, o.id, o.version, failure_code="BRD", cause="c", actor="x"),
         TransitionError, "cannot close when open"),
        (lambda s, t, o: s.assign(t, o.id, o.version, assignee=" ", window=None, actor="x"),
         WorkOrderError, "assignee"),
        (lambda s, t, o: s.cancel(t, o.id, o.version, reason="", actor="x"), WorkOrderError,
         "give the reason"),
        (lambda s, t, o: s.start(t, 999_999, 1, actor="x"), WorkOrderNotFoundError,
         "no work order 999999"),
    ],
)  # fmt: skip
def test_refused_moves_name_the_problem_and_change_nothing(
    orders: WorkOrders, acme: int, step: object, error: type[Exception], message: str
) -> None:
    o = orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x").order
    with pytest.raises(error, match=message):
        step(orders, acme, o)  # type: ignore[operator]
    assert orders.get(acme, o.id) == o


def test_failure_codes_come_from_the_configured_catalog(catalog: Catalog, acme: int) -> None:
    config = OrdersConfig(failure_codes={"SPB": "spindle bearing", "TLW": "tool wear"})
    orders = WorkOrders(WorkOrderStore(catalog), config)
    o = orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x").order
    o = orders.assign(acme, o.id, o.version, assignee="m", window=None, actor="p")
    o = orders.start(acme, o.id, o.version, actor="m")
    with pytest.raises(WorkOrderError, match=r"'BRD' is not in the catalog \(SPB, TLW\)"):
        orders.close(acme, o.id, o.version, failure_code="BRD", cause="c", actor="m")
    assert orders.close(acme, o.id, o.version, failure_code="SPB", cause="c", actor="m").status
    with pytest.raises(ValueError, match="codes"):
        OrdersConfig(failure_codes={"bad code": "x"})


def test_unknown_equipment_and_other_tenants_are_refused(
    orders: WorkOrders, catalog: Catalog, acme: int
) -> None:
    globex = catalog.tenant_id("globex") or 0
    with pytest.raises(WorkOrderError, match="no equipment 'plant1/nope'"):
        orders.open_from_anomaly(acme, "plant1/nope", at_ns=T0, summary="x")
    with pytest.raises(WorkOrderError, match="no equipment"):
        orders.open_manual(
            acme, "plant1/machining", title="t", suggested_action="a", due_ns=T0, actor="p"
        )  # a line is not an equipment
    o = orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x").order
    with pytest.raises(WorkOrderNotFoundError):
        orders.get(globex, o.id)
    with pytest.raises(WorkOrderNotFoundError):
        orders.cancel(globex, o.id, o.version, reason="mine now", actor="globex")
    assert orders.orders(globex).orders == []
    assert orders.get(acme, o.id).status == "open"


def test_scheduling_sees_the_windows_of_live_orders(orders: WorkOrders, acme: int) -> None:
    def planned(eq: str, start_h: int, end_h: int) -> int:
        o = orders.open_manual(
            acme, eq, title="t", suggested_action="a", due_ns=T0 + 99 * H, actor="p"
        )
        w = Window(T0 + start_h * H, T0 + end_h * H)
        return orders.assign(acme, o.id, o.version, assignee="m", window=w, actor="p").id

    late, early, other = planned(CNC1, 10, 12), planned(CNC1, 2, 3), planned(CNC2, 5, 6)
    done = planned(CNC1, 4, 5)
    d = orders.get(acme, done)
    orders.cancel(acme, done, d.version, reason="not needed", actor="p")

    found = orders.maintenance_windows(acme, CNC1, start_ns=T0, end_ns=T0 + 24 * H)
    assert [(w.order_id, w.start_ns - T0, w.end_ns - T0) for w in found] == [
        (early, 2 * H, 3 * H),
        (late, 10 * H, 12 * H),
    ]
    everyone = orders.maintenance_windows(acme, start_ns=T0, end_ns=T0 + 24 * H)
    assert [w.order_id for w in everyone] == [early, other, late]
    assert everyone[1].equipment == CNC2 and everyone[1].status == "assigned"
    with pytest.raises(WorkOrderError, match=r"start: .* is not before end"):
        orders.maintenance_windows(acme, start_ns=T0, end_ns=T0)


def test_closed_orders_become_training_labels(orders: WorkOrders, acme: int, clock: Clock) -> None:
    # an anomaly seen at T0 and again 5 h later, repaired in a window 20..22 h
    orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="onset", data={"score": 3.0})
    o = orders.open_from_anomaly(acme, CNC1, at_ns=T0 + 5 * H, summary="worse").order
    window = Window(T0 + 20 * H, T0 + 22 * H)
    o = orders.assign(acme, o.id, o.version, assignee="m", window=window, actor="p")
    o = orders.start(acme, o.id, o.version, actor="m")
    clock.now = T0 + 22 * H
    orders.close(acme, o.id, o.version, failure_code="VIB", cause="spall", actor="m")
    # a manual order without a window, and a cancelled one: no label
    m = orders.open_manual(
        acme, CNC1, title="t", suggested_action="a", due_ns=T0 + 99 * H, actor="p"
    )
    m = orders.assign(acme, m.id, m.version, assignee="m", window=None, actor="p")
    m = orders.start(acme, m.id, m.version, actor="m")
    clock.now = T0 + 30 * H
    orders.close(acme, m.id, m.version, failure_code="OHE", cause="fan", actor="m")
    c = orders.open_from_rul(acme, CNC1, at_ns=T0, rul_h=5.0)
    assert c is not None
    orders.cancel(acme, c.order.id, c.order.version, reason="wrong model", actor="p")

    labels = orders.training_labels(acme, CNC1)

    assert labels == [
        Label(o.id, CNC1, "VIB", "spall", Source.ANOMALY, T0, T0 + 20 * H, window),
        Label(m.id, CNC1, "OHE", "fan", Source.MANUAL, T0 + 22 * H, T0 + 30 * H, None),
    ]
    assert orders.training_labels(acme, CNC2) == []


def test_bad_evidence_is_refused_before_anything_is_stored(orders: WorkOrders, acme: int) -> None:
    with pytest.raises(WorkOrderError, match="evidence data: not JSON"):
        orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x", data={"s": float("nan")})
    with pytest.raises(WorkOrderError, match=r"evidence data: .* at most 4000"):
        orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="x", data={"s": "y" * 5000})
    with pytest.raises(WorkOrderError, match="summary: at most 500"):
        orders.open_from_anomaly(acme, CNC1, at_ns=T0, summary="s" * 501)
    assert orders.orders(acme, OrderFilter()).orders == []
