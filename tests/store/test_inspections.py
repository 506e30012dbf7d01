"""Inspection results and SPC alarms on a migrated catalog, on SQLite and on the real
PostgreSQL: results kept verbatim and read by range, alarms recorded once per point and
rule (also when two recorders race), their alarm-history rows in the same transaction,
acknowledgement, tenant scoping, filters and keyset paging, and the migration itself."""

import threading
from collections.abc import Sequence
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, inspect

from factoryos.model.site import parse_site
from factoryos.store import migrate
from factoryos.store.alarm_log import AlarmLog, AlarmRecord
from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.inspections import (
    AlarmFilter,
    InspectionRecord,
    InspectionStore,
    SpcAlarmNotFoundError,
    SpcAlarmRecord,
    SpcAlarmStateError,
)
from store.test_migrations import catalog, pg_url, sqlite_url, url
from support.sites import site_yaml

__all__ = ["catalog", "pg_url", "sqlite_url", "url"]

S = 1_000_000_000
EQ = "plant1/machining/line1/cell1/cnc-01"


def _alarm(t_s: int, rule: str = "WE1", chart: str = "xbar", **kw: object) -> SpcAlarmRecord:
    fields: dict[str, object] = {
        "characteristic": "diameter",
        "ts": t_s * S,
        "chart": chart,
        "rule": rule,
        "description": "one point beyond 3σ",
        "equipment": EQ,
        "raised": 1000 * S,
        "value": 10.2,
        "lot": "L1",
    }
    return SpcAlarmRecord(**{**fields, **kw})  # type: ignore[arg-type]


def _note(stored: Sequence[SpcAlarmRecord]) -> list[AlarmRecord]:
    return [
        AlarmRecord(a.ts, f"spc:{a.characteristic}", "activated", 2, "active_unacked", a.value,
                    comment=f"{a.rule} lot {a.lot}")
        for a in stored
    ]  # fmt: skip


def _ack_note(acked: SpcAlarmRecord, active: int) -> list[AlarmRecord]:
    state = "normal" if active == 0 else "cleared_unacked"
    return [AlarmRecord(acked.acked_at or 0, "spc:diameter", "acknowledged", 2, state,
                        actor=acked.acked_by)]  # fmt: skip


def test_migration_makes_the_tables(url: str) -> None:
    migrate.upgrade(url, "0010_spc")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            uniques = inspect(conn).get_unique_constraints("spc_alarms")
    finally:
        engine.dispose()
    assert {"inspection_results", "spc_alarms"} <= tables
    assert [u["column_names"] for u in uniques] == [
        ["tenant_id", "characteristic", "ts", "chart", "rule"]
    ]
    assert migrate.current(url) == "0010_spc"
    migrate.downgrade(url, "0009_identifier_registry")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert not {"inspection_results", "spc_alarms"} & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_results_come_back_verbatim_by_range_and_tenant(catalog: Catalog) -> None:
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    store = InspectionStore(catalog)
    measured = InspectionRecord(
        "diameter", 20 * S, EQ, "user ann", lot="L-1", values=(10.01, 9.99, 10.0),
        comment="gauge 7", created=99,
    )  # fmt: skip
    counted = InspectionRecord("diameter", 10 * S, EQ, "user bo", count=3, sample_size=50.0)
    first = store.add(acme, measured)
    store.add(acme, counted)
    store.add(globex, replace(measured, lot="theirs"))

    found = store.results(acme, "diameter", 0, 30 * S)

    assert found == [replace(counted, id=found[0].id), replace(measured, id=first.id)]
    assert store.results(acme, "diameter", 11 * S, 20 * S) == []  # end is exclusive
    assert store.results(acme, "other", 0, 30 * S) == []
    assert [r.lot for r in store.results(globex, "diameter", 0, 30 * S)] == ["theirs"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lot": "x" * 129}, "lot"),
        ({"values": ()}, "values"),
        ({"values": (float("nan"),)}, "values"),
        ({"count": -1}, "count"),
        ({"sample_size": 0.0}, "sample_size"),
        ({"equipment": ""}, "equipment"),
    ],
)
def test_a_result_the_columns_cannot_hold_is_refused(
    catalog: Catalog, change: dict[str, object], field: str
) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = InspectionStore(catalog)
    bad = replace(InspectionRecord("diameter", 0, EQ, "ann", values=(1.0,)), **change)  # type: ignore[arg-type]
    with pytest.raises(CatalogInputError, match=f"^{field}:"):
        store.add(tenant, bad)
    assert store.results(tenant, "diameter", -(2**62), 2**62) == []


def test_alarms_are_recorded_once_per_point_and_rule(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = InspectionStore(catalog)
    first = store.record_alarms(tenant, [_alarm(1), _alarm(1, "WE2"), _alarm(2)], _note)
    again = store.record_alarms(
        tenant, [_alarm(1), _alarm(2, chart="r"), _alarm(2), _alarm(2, chart="r")], _note
    )

    assert [(a.ts // S, a.chart, a.rule) for a in first] == [(1, "xbar", "WE1"), (1, "xbar", "WE2"),
                                                            (2, "xbar", "WE1")]  # fmt: skip
    assert [(a.ts // S, a.chart, a.rule) for a in again] == [(2, "r", "WE1")]
    assert all(a.state == "active" and a.id > 0 for a in (*first, *again))
    history = AlarmLog(catalog).query(tenant).records
    assert len(history) == 4  # exactly one row per stored alarm, written with it
    assert {(r.ts // S, r.comment) for r in history} == {(1, "WE1 lot L1"), (1, "WE2 lot L1"),
                                                        (2, "WE1 lot L1")}  # fmt: skip


def test_history_rows_and_alarms_are_stored_together_or_not_at_all(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = InspectionStore(catalog)

    def broken(stored: Sequence[SpcAlarmRecord]) -> list[AlarmRecord]:
        return [AlarmRecord(0, "spc:x", "activated", 2, "active_unacked", comment="c" * 10**6)]

    # An over-long comment is cut, not refused; a row the database refuses rolls back all.
    store.record_alarms(tenant, [_alarm(1)], broken)
    assert len(AlarmLog(catalog).query(tenant).records) == 1

    def failing(stored: Sequence[SpcAlarmRecord]) -> list[AlarmRecord]:
        raise RuntimeError("cannot word the history rows")

    with pytest.raises(RuntimeError):
        store.record_alarms(tenant, [_alarm(5)], failing)
    assert [a.ts // S for a in store.alarms(tenant).alarms] == [1]


def test_racing_recorders_store_each_alarm_once(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    alarms = [_alarm(t) for t in range(50)]
    results: list[list[SpcAlarmRecord]] = []
    errors: list[BaseException] = []

    def record() -> None:
        try:
            results.append(InspectionStore(catalog).record_alarms(tenant, alarms, _note))
        except BaseException as exc:  # reported below: a thread cannot raise into the test
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(len(r) for r in results) == 50
    assert len(InspectionStore(catalog).alarms(tenant, limit=1000).alarms) == 50
    assert len(AlarmLog(catalog).query(tenant, limit=1000).records) == 50


def test_acknowledging_once_and_only_once(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    other = catalog.ensure_tenant("globex")
    store = InspectionStore(catalog)
    a, b = store.record_alarms(tenant, [_alarm(1), _alarm(2)], _note)

    acked = store.acknowledge(tenant, a.id, "user ann", 50 * S, "gauge checked", _ack_note)

    assert (acked.state, acked.acked_by, acked.acked_at, acked.comment) == (
        "acknowledged", "user ann", 50 * S, "gauge checked",
    )  # fmt: skip
    with pytest.raises(SpcAlarmStateError, match="user ann"):
        store.acknowledge(tenant, a.id, "user bo", 60 * S, None, _ack_note)
    with pytest.raises(SpcAlarmNotFoundError):
        store.acknowledge(other, b.id, "user eve", 60 * S, None, _ack_note)  # not theirs
    with pytest.raises(SpcAlarmNotFoundError):
        store.acknowledge(tenant, 10**9, "user ann", 60 * S, None, _ack_note)
    store.acknowledge(tenant, b.id, "user ann", 70 * S, None, _ack_note)
    acks = [r for r in AlarmLog(catalog).query(tenant).records if r.kind == "acknowledged"]
    assert [(r.ts // S, r.state) for r in acks] == [(70, "normal"), (50, "cleared_unacked")]
    assert store.get(tenant, b.id).state == "acknowledged"
    assert store.active_counts(tenant) == {}


def test_filters_paging_and_tenants(catalog: Catalog) -> None:
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    store = InspectionStore(catalog)
    stored = store.record_alarms(acme, [_alarm(t) for t in range(5)], _note)
    store.record_alarms(acme, [_alarm(1, characteristic="runout")], _note)
    store.record_alarms(globex, [_alarm(1)], _note)
    store.acknowledge(acme, stored[0].id, "ann", 9 * S, None, _ack_note)

    page = store.alarms(acme, AlarmFilter(characteristic="diameter"), limit=3)
    rest = store.alarms(acme, AlarmFilter(characteristic="diameter"), before=page.next_before)

    assert [a.ts // S for a in page.alarms] == [4, 3, 2]
    assert [a.ts // S for a in rest.alarms] == [1, 0] and rest.next_before is None
    active = store.alarms(acme, AlarmFilter(state="active"))
    assert {(a.characteristic, a.ts // S) for a in active.alarms} == {
        ("diameter", 1), ("diameter", 2), ("diameter", 3), ("diameter", 4), ("runout", 1),
    }  # fmt: skip
    assert store.active_counts(acme) == {"diameter": 4, "runout": 1}
    assert store.active_counts(globex) == {"diameter": 1}
    with pytest.raises(CatalogInputError, match="limit"):
        store.alarms(acme, limit=0)


def test_equipment_is_looked_up_in_the_tenants_site(catalog: Catalog) -> None:
    catalog.register_site(parse_site(site_yaml("acme")))
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    store = InspectionStore(catalog)
    assert store.equipment_exists(acme, EQ)
    assert not store.equipment_exists(acme, "plant1/machining/line1/cell1")  # a cell
    assert not store.equipment_exists(globex, EQ)
