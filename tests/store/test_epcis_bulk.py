"""The bulk path into the EPCIS tables, on SQLite and the real PostgreSQL: what it stores, its
ids next to capture's, and the batches it refuses (whole, nothing written)."""

from collections.abc import Iterator

import pytest

from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.epcis_bulk import MAX_BULK, EpcisBulk
from factoryos.store.epcis_events import MAX_ID, EpcisEvents, NewEvent
from store.test_migrations import pg_url, sqlite_url, url

__all__ = ["pg_url", "sqlite_url", "url"]


def event(n: int, epcs: tuple[tuple[str, str], ...] = ()) -> NewEvent:
    """Transformation n: lot n in, lot n+1 out (unless ``epcs`` says otherwise)."""
    return NewEvent(
        event_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        event_type="TransformationEvent",
        event_time_ns=n * 1_000_000_000,
        action=None,
        biz_step="commissioning",
        disposition=None,
        read_point="urn:epc:id:sgln:4012345.00001.0",
        biz_location=None,
        body='{"type":"TransformationEvent","note":"tab\\there, back\\\\slash\\nnewline"}',
        epcs=epcs or (("input_class", f"lot:{n}"), ("output_class", f"lot:{n + 1}")),
        edges=() if epcs else ((f"lot:{n}", f"lot:{n + 1}"),),
    )


@pytest.fixture
def store(url: str) -> Iterator[tuple[int, Catalog]]:
    catalog = Catalog(url)
    catalog.migrate()
    yield catalog.ensure_tenant("acme"), catalog
    catalog.close()


def test_a_batch_is_stored_with_its_identifiers(store: tuple[int, Catalog]) -> None:
    tenant, catalog = store
    assert EpcisBulk(catalog).load(tenant, [event(n) for n in range(3)], 7) == 3
    events = EpcisEvents(catalog)
    assert events.count(tenant) == 3
    with events.genealogy(tenant) as edges:
        upstream = edges(["lot:1"], False, 10)
        assert [(e.event_id, e.source, e.target) for e in upstream] == [
            (event(0).event_id, "lot:0", "lot:1")
        ]
        assert [e.target for e in edges(["lot:1"], True, 10)] == ["lot:2"]
    assert events.bodies(tenant, "lot:0") == [event(0).body]  # text kept byte for byte


def test_bulk_and_capture_take_turns_without_clashing_ids(store: tuple[int, Catalog]) -> None:
    tenant, catalog = store
    bulk, events = EpcisBulk(catalog), EpcisEvents(catalog)
    bulk.load(tenant, [event(n) for n in range(0, 5)], 0)
    assert events.capture(tenant, [event(n) for n in range(5, 8)], 0).written == 3
    bulk.load(tenant, [event(n) for n in range(8, 10)], 0)
    assert events.count(tenant) == 10
    with events.genealogy(tenant) as edges:
        ids = [e.event_id for n in range(10) for e in edges([f"lot:{n}"], True, 10)]
    assert ids == [event(n).event_id for n in range(10)]  # each event its own edges


def test_a_repeated_event_id_refuses_the_whole_batch(store: tuple[int, Catalog]) -> None:
    tenant, catalog = store
    bulk = EpcisBulk(catalog)
    bulk.load(tenant, [event(0)], 0)
    with pytest.raises(CatalogInputError, match="eventID the tenant already has"):
        bulk.load(tenant, [event(1), event(0)], 0)
    with pytest.raises(CatalogInputError, match="eventID"):
        bulk.load(tenant, [event(2), event(2)], 0)
    assert EpcisEvents(catalog).count(tenant) == 1
    assert bulk.load(tenant, [event(1)], 0) == 1  # the connection is usable after a refusal


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (event(1, (("input", "x" * (MAX_ID + 1)),)), r"eventList\[1\]: an identifier longer"),
        (event(1, (("sideways", "lot:1"),)), r"eventList\[1\]: unknown roles \['sideways'\]"),
    ],
)
def test_bad_events_are_refused_before_anything_is_written(
    store: tuple[int, Catalog], bad: NewEvent, message: str
) -> None:
    tenant, catalog = store
    with pytest.raises(CatalogInputError, match=message):
        EpcisBulk(catalog).load(tenant, [event(0), bad], 0)
    assert EpcisEvents(catalog).count(tenant) == 0


def test_batch_size_is_bounded_and_an_empty_batch_is_nothing(store: tuple[int, Catalog]) -> None:
    tenant, catalog = store
    with pytest.raises(CatalogInputError, match=f"at most {MAX_BULK}"):
        EpcisBulk(catalog).load(tenant, [event(0)] * (MAX_BULK + 1), 0)
    assert EpcisBulk(catalog).load(tenant, [], 0) == 0
