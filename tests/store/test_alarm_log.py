"""The alarm history on a migrated catalog, on SQLite and on the real PostgreSQL: batches in
order, filters, keyset paging, each alarm's newest row, pruning by age and by size."""

import pytest

from factoryos.store.alarm_log import AlarmLog, AlarmRecord, HistoryFilter
from factoryos.store.catalog import Catalog, CatalogInputError

S = 1_000_000_000


def _rec(
    t_s: int, alarm: str, kind: str = "activated", priority: int = 2, **kw: object
) -> AlarmRecord:
    state = {"activated": "active_unacked", "acknowledged": "active_acked"}.get(kind, "normal")
    return AlarmRecord(t_s * S, alarm, kind, priority, str(kw.pop("state", state)), **kw)  # type: ignore[arg-type]


def test_rows_come_back_newest_first_with_every_field(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    log.append(tenant, [_rec(1, "a", value=80.5), _rec(2, "a", "acknowledged", actor="user ann")])
    log.append(
        tenant, [_rec(3, "b", "shelved", state="shelved", comment="sensor swap", until=99 * S)]
    )

    page = log.query(tenant)

    assert [(r.ts // S, r.alarm, r.kind) for r in page.records] == [
        (3, "b", "shelved"),
        (2, "a", "acknowledged"),
        (1, "a", "activated"),
    ]
    shelved, acked, activated = page.records
    assert (shelved.comment, shelved.until, shelved.state) == ("sensor swap", 99 * S, "shelved")
    assert (acked.actor, acked.state) == ("user ann", "active_acked")
    assert activated.value == 80.5 and activated.priority == 2
    assert page.next_before is None


def test_filters_combine(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    log.append(
        tenant,
        [
            _rec(1, "a", priority=1),
            _rec(2, "b", priority=3),
            _rec(3, "b", "cleared", priority=3),
            _rec(4, "c", priority=4),
        ],
    )

    def names(where: HistoryFilter) -> list[tuple[int, str]]:
        return [(r.ts // S, r.alarm) for r in log.query(tenant, where).records]

    assert names(HistoryFilter(alarm="b")) == [(3, "b"), (2, "b")]
    assert names(HistoryFilter(kinds=("activated",), min_priority=3)) == [(4, "c"), (2, "b")]
    assert names(HistoryFilter(start=2 * S, end=4 * S)) == [(3, "b"), (2, "b")]


def test_keyset_paging_visits_every_row_once(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    log.append(tenant, [_rec(t, f"a{t % 3}") for t in range(25)])

    seen, before = [], None
    while True:
        page = log.query(tenant, limit=10, before=before)
        seen += [r.ts // S for r in page.records]
        if page.next_before is None:
            break
        before = page.next_before

    assert seen == list(range(24, -1, -1))


def test_tenants_do_not_see_each_other(catalog: Catalog) -> None:
    mine, theirs = catalog.ensure_tenant("acme"), catalog.ensure_tenant("other")
    log = AlarmLog(catalog)
    log.append(theirs, [_rec(1, "a")])

    assert log.query(mine).records == []
    assert log.latest(mine) == {}
    assert log.events(mine, 0, 10 * S, 100) == []


def test_latest_is_each_alarms_newest_row(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    log.append(tenant, [_rec(1, "a"), _rec(2, "b"), _rec(3, "a", "acknowledged")])

    latest = log.latest(tenant)

    assert {n: r.kind for n, r in latest.items()} == {"a": "acknowledged", "b": "activated"}


def test_events_are_in_time_order_within_the_range(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    log.append(tenant, [_rec(5, "a"), _rec(1, "b"), _rec(9, "c")])

    assert [r.alarm for r in log.events(tenant, 0, 9 * S, 100)] == ["b", "a"]


def test_prune_by_age_and_size_keeps_each_alarms_newest_row(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    # "old" has only ancient rows: its newest must survive (it is the alarm's state).
    log.append(tenant, [_rec(1, "old"), _rec(2, "old", "acknowledged")])
    log.append(tenant, [_rec(100 + t, "busy") for t in range(10)])

    gone = log.prune(tenant, older_than=50 * S, max_rows=5)

    rows = log.query(tenant).records
    # By age: old's first row (t=1). By size, 11 rows are left and the 6th newest is busy
    # t=104: it and the older busy rows go (5), old's t=2 stays as old's newest row.
    assert gone == 1 + 5
    assert [(r.alarm, r.ts // S) for r in rows] == [("busy", t) for t in range(109, 104, -1)] + [
        ("old", 2)
    ]


def test_bad_input_is_refused(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    with pytest.raises(CatalogInputError, match="limit"):
        log.query(tenant, limit=0)
    log.append(tenant, [_rec(1, "a", value=float("nan"))])
    assert log.query(tenant).records[0].value is None  # stored as unknown, not NaN
