"""``factoryos bench trace``: genealogy latency over a repository of ``events`` EPCIS events.

The repository is a synthetic but realistic discrete-manufacturing history, generated
deterministically from a seed by :class:`SupplyChain` and streamed into a fresh catalog (a
temporary SQLite file, or a PostgreSQL schema of its own, dropped afterwards) through the bulk
path (:class:`~factoryos.store.epcis_bulk.EpcisBulk`), ``CHUNK`` events at a time.

The plant (three product lines, one per entry of ``CASE_SIZES``, each its own chain) pulls
material as it assembles units, so every lot is made just before it is first needed and the
events come in time order:

- raw material lots (resin, pigment, additive; received) → masterbatch lot → blend lot →
  moulded blank lot → machined part lot → coated part lot → serialised sub-assembly →
  assembly (of 1–2 sub-assemblies) → serialised unit: one TransformationEvent per lot or
  serial, inputs taken first in, first out, so a lot that runs out mid-order gives two input
  lots (lot sizes vary ±25 %);
- purchased component lots (coating powder, bearings, housings, fasteners; received) join at
  the coated, sub-assembly, assembly and unit steps: dead ends of a backward trace;
- units are packed into cases (AggregationEvent ADD, ``CASE_SIZES`` units), cases onto
  pallets, pallets into shipments;
- the noise a real repository holds: receiving and storing of every received lot, a QC
  inspection of every made lot and sub-assembly, label commissioning and an end-of-line test
  of every unit, shipping; days later, arrival at the distribution centre (receiving,
  unloading, pallets unpacked: AggregationEvent DELETE, not a genealogy edge), receipt and
  unpacking of each case at a store, and the retail sale of most units.

Backward from a pallet the chain is exactly 10 levels deep (case, unit, assembly,
sub-assembly, five lot stages, raw material); forward from a raw lot, level 10 is the pallets.

Timing: after the load, the rebuild of the genealogy indexes the docs advise after a large
import (``factoryos trace reindex``; off with ``reindex=False``: the indexes as loaded), and
``VACUUM ANALYZE`` (PostgreSQL) or ``ANALYZE`` (SQLite) as a database in service has had. A
rebuild leaves the indexes it just wrote in the kernel's page cache, so with
``drop_page_cache`` (Linux, root, the database on this machine) the cache is written back and
dropped before the traces: the pages a trace needs are read from disk unless PostgreSQL's own
shared buffers hold them. Then ``traces`` backward traces from random pallets and ``traces``
forward traces from random raw-material lots (received in the first ``RAW_SAMPLE_SHARE`` of
the stream, so their material has been shipped), interleaved, each through the real
``genealogy.walk_stored`` (as the API runs it) to ``depth`` levels, timed alone with
``time.perf_counter_ns``; ``WARMUP`` traces of each direction before them are not timed.

The reads the database's disk made during the traces are reported too
(:mod:`factoryos.bench.diskstats`; PostgreSQL only when the server is on this machine and
tells its data directory), so a slow tail can be put down to the software or to the storage.
"""

import contextlib
import heapq
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import URL, make_url

from factoryos.apps.trace.epcis.capture import to_row
from factoryos.apps.trace.genealogy import Direction, walk_stored
from factoryos.apps.trace.identifiers import EpcUrn, UrnKind
from factoryos.bench.diskstats import DiskReads, disk_reads
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import peak_rss_mb, progress_bar
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_bulk import EpcisBulk
from factoryos.store.epcis_events import EpcisEvents, NewEvent
from factoryos.store.genealogy_indexes import Rebuilt, rebuild_genealogy_indexes

SEED = 20260101
COMPANY = "4012345"  # the GS1 Company Prefix of GS1's own EPCIS examples
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
TAKT_MS = 21_000  # each line finishes a unit every 21 s
CASE_SIZES = (12, 24, 40)  # units per case, by line (one line per entry)
CASES_PER_PALLET = (16, 10, 6)
PALLETS_PER_SHIPMENT = (2, 6)
SALE_SHARE = 0.6  # units sold by the end of the data; the rest are still on shelves
RAW_SAMPLE_SHARE = 0.8
CHUNK = 20_000  # events per bulk load
WARMUP = 10
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
MIN_EVENTS = 10_000  # fewer leaves too few pallets to trace from
LOCAL_HOSTS = (None, "", "localhost", "127.0.0.1", "::1")  # None: the Unix socket
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 200.0
MB = 2**20

Event = dict[str, Any]
Quantity = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Material:
    """A lot-tracked material of a line: received (no inputs) or made from ``inputs``."""

    key: str
    item: int  # item reference, made unique per line
    lot_code: str
    size: float  # mean lot size: kg, or pieces when not ``kg``
    kg: bool = False
    inputs: tuple[tuple[str, float], ...] = ()  # (material, amount taken per lot made)
    raw: bool = False  # a raw material: forward traces start at these


MATERIALS = (
    Material("resin", 1, "RS", 1000.0, kg=True, raw=True),
    Material("pigment", 2, "PG", 250.0, kg=True, raw=True),
    Material("additive", 3, "AD", 100.0, kg=True, raw=True),
    Material("masterbatch", 10, "MB", 1000.0, kg=True,
             inputs=(("resin", 900.0), ("pigment", 75.0), ("additive", 25.0))),
    Material("blend", 11, "BL", 500.0, kg=True, inputs=(("masterbatch", 500.0),)),
    Material("blank", 12, "MO", 1200.0, inputs=(("blend", 420.0),)),
    Material("machined", 13, "MC", 1200.0, inputs=(("blank", 1200.0),)),
    Material("coating", 4, "CP", 25.0, kg=True),
    Material("coated", 14, "CT", 600.0, inputs=(("machined", 600.0), ("coating", 3.0))),
    Material("bearing", 5, "BR", 2000.0),
    Material("housing", 6, "HS", 800.0),
    Material("fastener", 7, "FS", 6000.0),
)  # fmt: skip
BY_KEY = {m.key: m for m in MATERIALS}
SUB_INPUTS = (("coated", 4.0), ("bearing", 2.0))
ASSEMBLY_INPUTS = (("housing", 1.0),)
UNIT_INPUTS = (("fastener", 8.0),)
SERIAL_ITEMS = {"subassembly": 20, "assembly": 21, "unit": 22}
SSCC_EXTENSION = {"case": 1, "pallet": 2, "shipment": 3}
SERIAL_FROM = 100_001
# The lots in use when line 1 makes its first unit, from its part down to the resin.
PROBE_STAGES = ("coated", "machined", "blank", "blend", "masterbatch", "resin")
PLANT, DC, FIRST_STORE, STORES = 1, 20, 100, 50


@cache
def _place(location: int, extension: str = "0") -> dict[str, str]:
    """A read point or business location: an SGLN, built and checked once."""
    return {"id": EpcUrn("id", "sgln", COMPANY, f"{location:05d}", extension).uri}


def _prefix(scheme: str, reference: str) -> str:
    """The URN of ``scheme`` without its last component, built (and checked) by the
    identifiers module once; serials and lot numbers are appended per identifier."""
    if scheme == "sscc":
        return EpcUrn("id", "sscc", COMPANY, reference + "0" * 9).uri[:-9]
    kind: UrnKind = "class" if scheme == "lgtin" else "id"
    return EpcUrn(kind, scheme, COMPANY, reference, "X").uri[:-1]


def _iso(t_ms: int) -> str:
    seconds, ms = divmod(t_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


class Reservoir:
    """A uniform random sample of at most ``size`` items of a stream (algorithm R)."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.seen, self._rng = size, 0, rng
        self.items: list[str] = []

    def offer(self, item: str) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (j := self._rng.randrange(self.seen)) < self.size:
            self.items[j] = item


@dataclass
class _Stock:
    lot: str = ""
    left: float = 0.0


@dataclass
class _Line:
    """One product line: the lot in use per material, the open case, pallet and shipment,
    counters, and its identifier prefixes."""

    number: int
    case_size: int
    cases_per_pallet: int
    shipment_size: int
    prefixes: dict[str, str]
    stock: dict[str, _Stock] = field(default_factory=lambda: {m.key: _Stock() for m in MATERIALS})
    counts: Counter[str] = field(default_factory=Counter)
    case: list[str] = field(default_factory=list)
    pallet: list[str] = field(default_factory=list)
    shipment: list[str] = field(default_factory=list)

    def station(self, name: str) -> dict[str, str]:
        return _place(PLANT, f"L{self.number}-{name}")

    def next_id(self, key: str, width: int = 0, first: int = 1) -> str:
        """The next serial, lot number or SSCC of ``key``: its prefix and a counter."""
        self.counts[key] += 1
        return f"{self.prefixes[key]}{first + self.counts[key] - 1:0{width}d}"


def _line_prefixes(number: int) -> dict[str, str]:
    out = {m.key: _prefix("lgtin", f"0{number}{m.item:04d}") + m.lot_code for m in MATERIALS}
    out |= {key: _prefix("sgtin", f"0{number}{item:04d}") for key, item in SERIAL_ITEMS.items()}
    # SSCC serial reference: extension digit, line digit, then 8 digits of counter.
    out |= {key: _prefix("sscc", f"{ext}") + f"{number}" for key, ext in SSCC_EXTENSION.items()}
    return out


class SupplyChain:
    """Exactly ``events`` EPCIS 2.0 events of a plant and its distribution, in time order.

    Iterate once; a new instance with the same seed gives the same events. Iterating samples
    the pallets and raw lots traces start from (``samples`` of each) and records
    :attr:`probe`: one chain from a pallet (level 0) down to a resin lot (level 10)."""

    def __init__(self, events: int, seed: int = SEED, samples: int = 256) -> None:
        self.events = events
        self._rng = random.Random(seed)
        sampler = random.Random(seed + 1)  # sampling draws must not change the data
        self.pallets = Reservoir(samples, sampler)
        self.raw_lots = Reservoir(samples, sampler)
        self.mix: Counter[str] = Counter()  # events by "type action"
        self.probe: tuple[str, ...] = ()
        self._probe_parts: tuple[str, ...] = ()
        self._now = START_MS
        self._ready: list[Event] = []
        self._later: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._queued = 0
        self._emitted = 0
        self._contents: dict[str, list[str]] = {}  # packed containers not yet unpacked
        self._lines = [
            _Line(n + 1, size, per_pallet, self._shipment_size(), _line_prefixes(n + 1))
            for n, (size, per_pallet) in enumerate(zip(CASE_SIZES, CASES_PER_PALLET, strict=True))
        ]

    @property
    def edge_share(self) -> float:
        """The share of the events genealogy follows (transformations, aggregations ADD)."""
        edges = sum(n for kind, n in self.mix.items() if kind.startswith("Transformation"))
        edges += self.mix["AggregationEvent ADD"] + self.mix["AggregationEvent OBSERVE"]
        return edges / max(1, self._emitted)

    @property
    def emitted(self) -> int:
        return self._emitted

    def __iter__(self) -> Iterator[Event]:
        while True:
            for line in self._lines:
                self._now += TAKT_MS // len(self._lines)
                self._release()
                self._unit(line)
                for event in self._ready:
                    yield event
                    self._emitted += 1
                    self.mix[f"{event['type']} {event.get('action', '')}".strip()] += 1
                    if self._emitted >= self.events:
                        return
                self._ready.clear()

    # -- events and the clock ------------------------------------------------------------

    def _emit(self, kind: str, t_ms: int, **fields: Any) -> None:
        event_id = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        head = {"type": kind, "eventTime": _iso(t_ms), "eventTimeZoneOffset": "+00:00"}
        self._ready.append(head | {"eventID": f"urn:uuid:{event_id}"} | fields)

    def _observe(
        self, t_ms: int, what: Event, step: str, disposition: str, where: dict[str, str]
    ) -> None:
        """An ObjectEvent; ``what`` is ``{"epcList": …}`` or ``{"quantityList": …}``, with
        ``"action"`` when not OBSERVE."""
        fields = {"action": "OBSERVE"} | what
        self._emit("ObjectEvent", t_ms, **fields, bizStep=step, disposition=disposition,
                   readPoint=where)  # fmt: skip

    def _aggregate(self, t_ms: int, action: str, parent: str, children: list[str], step: str,
                   where: dict[str, str]) -> None:  # fmt: skip
        disposition = "in_progress" if action == "ADD" else "container_open"
        self._emit("AggregationEvent", t_ms, action=action, parentID=parent, childEPCs=children,
                   bizStep=step, disposition=disposition, readPoint=where)  # fmt: skip

    def _at(self, t_ms: int, then: Callable[..., None], *args: Any) -> None:
        """Run ``then(t_ms, *args)`` once the clock reaches ``t_ms``. What waits is bounded by
        the longest delay (days of distribution), not by the size of the data."""
        self._queued += 1
        heapq.heappush(self._later, (t_ms, self._queued, then, args))

    def _release(self) -> None:
        while self._later and self._later[0][0] <= self._now:
            t_ms, _, then, args = heapq.heappop(self._later)
            then(t_ms, *args)

    def _shipment_size(self) -> int:
        return self._rng.randint(*PALLETS_PER_SHIPMENT)

    # -- lots ----------------------------------------------------------------------------

    def _take(self, line: _Line, key: str, amount: float) -> list[Quantity]:
        """``amount`` of material ``key``, first in first out, making lots as they run out."""
        stock, material, taken = line.stock[key], BY_KEY[key], dict[str, float]()
        while amount > 1e-9:
            if stock.left <= 1e-9:
                stock = self._make_lot(line, material)
            used = min(amount, stock.left)
            taken[stock.lot] = taken.get(stock.lot, 0.0) + used
            stock.left -= used
            amount -= used
        return [_quantity(material, lot, q) for lot, q in taken.items()]

    def _make_lot(self, line: _Line, material: Material) -> _Stock:
        lot = line.next_id(material.key, width=6)
        size = material.size * self._rng.uniform(0.75, 1.25)
        size = round(size, 1) if material.kg else float(round(size))
        made = [_quantity(material, lot, size)]
        if material.inputs:
            where = line.station(material.key.upper())
            scale = size / material.size  # inputs in proportion: the mass balances
            taken = [q for key, use in material.inputs for q in self._take(line, key, use * scale)]
            self._emit("TransformationEvent", self._now, inputQuantityList=taken,
                       outputQuantityList=made, bizStep="creating_class_instance",
                       disposition="active", readPoint=where)  # fmt: skip
            self._observe(self._now, {"quantityList": made}, "inspecting", "conformant", where)
        else:
            dock = line.station("DOCK")
            self._observe(self._now, {"quantityList": made}, "receiving", "in_progress", dock)
            self._observe(self._now, {"quantityList": made}, "storing", "available", dock)
            if material.raw and self._emitted < RAW_SAMPLE_SHARE * self.events:
                self.raw_lots.offer(lot)
        line.stock[material.key] = _Stock(lot, size)
        return line.stock[material.key]

    # -- serials -------------------------------------------------------------------------

    def _assemble(self, line: _Line, serial: str, parts: list[str],
                  lots: tuple[tuple[str, float], ...], station: str) -> str:  # fmt: skip
        inputs = [q for k, amount in lots for q in self._take(line, k, amount)]
        given = {"inputEPCList": parts} if parts else {}
        self._emit("TransformationEvent", self._now, **given, inputQuantityList=inputs,
                   outputEPCList=[serial], bizStep="assembling", disposition="active",
                   readPoint=line.station(station))  # fmt: skip
        return serial

    def _unit(self, line: _Line) -> None:
        subs = []
        for _ in range(self._rng.randint(1, 2)):
            sub = self._assemble(
                line, line.next_id("subassembly", first=SERIAL_FROM), [], SUB_INPUTS, "SUB"
            )
            self._observe(
                self._now, {"epcList": [sub]}, "inspecting", "conformant", line.station("SUBTEST")
            )
            subs.append(sub)
        assembly = self._assemble(
            line, line.next_id("assembly", first=SERIAL_FROM), subs, ASSEMBLY_INPUTS, "ASSY"
        )
        # The serial label is printed (commissioned) before final assembly links it.
        unit = line.next_id("unit", first=SERIAL_FROM)
        label = {"action": "ADD", "epcList": [unit]}
        self._observe(self._now, label, "commissioning", "active", line.station("LABEL"))
        self._assemble(line, unit, [assembly], UNIT_INPUTS, "FINAL")
        self._observe(
            self._now, {"epcList": [unit]}, "inspecting", "conformant", line.station("EOLTEST")
        )
        if not self._probe_parts and line.number == 1:
            lots = tuple(line.stock[key].lot for key in PROBE_STAGES)
            self._probe_parts = (unit, assembly, subs[0], *lots)
        line.case.append(unit)
        if len(line.case) == line.case_size:
            self._pack_case(line)

    # -- logistics -----------------------------------------------------------------------

    def _pack_case(self, line: _Line) -> None:
        case, units = line.next_id("case", width=8), line.case
        self._aggregate(self._now, "ADD", case, units, "packing", line.station("PACK"))
        self._contents[case], line.case = units, []
        line.pallet.append(case)
        if len(line.pallet) == line.cases_per_pallet:
            self._pack_pallet(line)

    def _pack_pallet(self, line: _Line) -> None:
        pallet, cases = line.next_id("pallet", width=8), line.pallet
        self._aggregate(self._now, "ADD", pallet, cases, "packing", line.station("PALLET"))
        self._contents[pallet], line.pallet = cases, []
        self.pallets.offer(pallet)
        if not self.probe and self._probe_parts and line.number == 1:
            self.probe = (pallet, cases[0], *self._probe_parts)
        line.shipment.append(pallet)
        if len(line.shipment) == line.shipment_size:
            self._ship(line)

    def _ship(self, line: _Line) -> None:
        shipment, pallets = line.next_id("shipment", width=8), line.shipment
        dock = line.station("DOCK")
        self._aggregate(self._now, "ADD", shipment, pallets, "loading", dock)
        advice = f"urn:epcglobal:cbv:bt:{COMPANY}000016:DA{line.number}{line.counts['shipment']}"
        self._emit("ObjectEvent", self._now, action="OBSERVE", epcList=[shipment, *pallets],
                   bizStep="shipping", disposition="in_transit", readPoint=dock,
                   bizTransactionList=[{"type": "desadv", "bizTransaction": advice}])  # fmt: skip
        self._at(self._now + self._rng.randint(DAY_MS, 2 * DAY_MS), self._arrive, shipment, pallets)
        line.shipment, line.shipment_size = [], self._shipment_size()

    def _arrive(self, t_ms: int, shipment: str, pallets: list[str]) -> None:
        """At the distribution centre: received and unloaded; pallets broken down later."""
        self._observe(t_ms, {"epcList": pallets}, "receiving", "in_progress", _place(DC))
        self._aggregate(t_ms, "DELETE", shipment, pallets, "unloading", _place(DC))
        for pallet in pallets:
            self._at(t_ms + self._rng.randint(0, DAY_MS // 4), self._break_down, pallet)

    def _break_down(self, t_ms: int, pallet: str) -> None:
        cases = self._contents.pop(pallet)
        self._aggregate(t_ms, "DELETE", pallet, cases, "unpacking", _place(DC))
        for case in cases:  # each case goes to a store
            store = FIRST_STORE + self._rng.randrange(STORES)
            self._at(t_ms + self._rng.randint(DAY_MS, 3 * DAY_MS), self._stock_store, case, store)

    def _stock_store(self, t_ms: int, case: str, store: int) -> None:
        units = self._contents.pop(case)
        self._observe(t_ms, {"epcList": [case]}, "receiving", "in_progress", _place(store))
        self._aggregate(t_ms, "DELETE", case, units, "unpacking", _place(store))
        for unit in units:
            if self._rng.random() < SALE_SHARE:
                sold = t_ms + self._rng.randint(DAY_MS // 24, 10 * DAY_MS)
                self._at(sold, self._sell, unit, store)

    def _sell(self, t_ms: int, unit: str, store: int) -> None:
        self._observe(
            t_ms, {"epcList": [unit]}, "retail_selling", "retail_sold", _place(store, "POS")
        )


def _quantity(material: Material, lot: str, amount: float) -> Quantity:
    if material.kg:
        return {"epcClass": lot, "quantity": round(amount, 3), "uom": "KGM"}
    return {"epcClass": lot, "quantity": round(amount)}


def chunks(chain: SupplyChain, size: int = CHUNK) -> Iterator[list[NewEvent]]:
    """The chain's events as store rows (exactly what capture stores), ``size`` at a time:
    only one chunk is held at once."""
    batch: list[NewEvent] = []
    for event in chain:
        batch.append(to_row(event))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- the benchmark ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Fresh:
    """A fresh catalog for one run: its backend, how to settle it after the load (planner
    statistics), how big it is and where its files are (None: not on this machine, or not
    known)."""

    catalog: Catalog
    backend: str
    settle: Callable[[], None]
    size_mb: Callable[[], float]
    files: Callable[[], Path | None]


@dataclass(frozen=True, slots=True)
class _Run:
    ms: float
    found: int
    depth: int  # deepest level reached


def run_trace_bench(
    events: int = 10_000_000,
    url: str | None = None,
    traces: int = 200,
    depth: int = 10,
    *,
    seed: int = SEED,
    reindex: bool = True,
    drop_page_cache: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate and bulk-load ``events`` events into a fresh catalog (a temporary SQLite file
    when ``url`` is None, else a new schema of the PostgreSQL at ``url`` or a new SQLite
    file), rebuild its genealogy indexes (``factoryos trace reindex``) unless ``reindex`` is
    off, drop the kernel's page cache if ``drop_page_cache``, then time ``traces`` backward and
    forward traces to ``depth`` levels."""
    _check(events, traces, depth)
    if drop_page_cache:
        _check_page_cache_droppable()
    chain = SupplyChain(events, seed, samples=traces + WARMUP)
    with progress_bar(progress) as bar, _fresh_catalog(url) as fresh:
        tenant = fresh.catalog.ensure_tenant("bench")
        loaded = _load(fresh.catalog, tenant, chain, bar)
        rebuilt = _reindex(fresh.catalog, bar) if reindex else []
        settle_s = _settle(fresh, bar)
        if drop_page_cache:
            _drop_page_cache()
        rng = random.Random(seed + 2)
        back = _pick(chain.pallets.items, traces + WARMUP, rng, "pallet")
        forth = _pick(chain.raw_lots.items, traces + WARMUP, rng, "raw-material lot")
        files = fresh.files()
        before = None if files is None else disk_reads(files)
        runs = _measure(EpcisEvents(fresh.catalog), tenant, back, forth, depth, bar)
        after = None if files is None else disk_reads(files)
        size_mb = fresh.size_mb()
    result = _result(chain, fresh.backend, loaded, settle_s, size_mb, runs, traces, depth)
    disk = None if before is None or after is None else after - before
    return result | _upkeep(rebuilt) | _disk(disk) | {"page_cache_dropped": drop_page_cache}


def _check(events: int, traces: int, depth: int) -> None:
    if events < MIN_EVENTS:
        raise BenchError(f"events must be >= {MIN_EVENTS:,} (pallets to trace from), got {events}")
    if traces < 1:
        raise BenchError(f"traces must be >= 1, got {traces}")
    if not 1 <= depth <= 100:
        raise BenchError(f"depth must be between 1 and 100, got {depth}")


def _pick(pool: list[str], k: int, rng: random.Random, what: str) -> list[str]:
    """``k`` roots from the sampled ``pool``; repeats only when the data has fewer."""
    if not pool:
        raise BenchError(f"the generated data has no {what} to trace from")
    return rng.sample(pool, k) if len(pool) >= k else rng.choices(pool, k=k)


@dataclass(frozen=True, slots=True)
class _Loaded:
    load_s: float  # inside the bulk loader
    generate_s: float  # the rest of the wall time: generating the events and their rows
    epc_rows: int


def _load(catalog: Catalog, tenant: int, chain: SupplyChain, bar: Progress | None) -> _Loaded:
    bulk = EpcisBulk(catalog)
    task = None if bar is None else bar.add_task("generate + bulk load", total=chain.events)
    started, in_load, epc_rows = time.perf_counter_ns(), 0, 0
    for batch in chunks(chain):
        before = time.perf_counter_ns()
        bulk.load(tenant, batch, time.time_ns())
        in_load += time.perf_counter_ns() - before
        epc_rows += sum(len(e.epcs) for e in batch)
        if bar is not None and task is not None:
            bar.advance(task, len(batch))
    wall = time.perf_counter_ns() - started
    return _Loaded(in_load / 1e9, (wall - in_load) / 1e9, epc_rows)


def _reindex(catalog: Catalog, bar: Progress | None) -> list[Rebuilt]:
    """The upkeep the docs advise after a large import: edges loaded in time order leave
    the indexes loosely packed, their pages out of key order."""
    task = None if bar is None else bar.add_task("rebuild genealogy indexes", total=1)
    rebuilt = rebuild_genealogy_indexes(catalog)
    if bar is not None and task is not None:
        bar.advance(task)
    return rebuilt


def _upkeep(rebuilt: list[Rebuilt]) -> dict[str, Any]:
    def mb(sizes: list[int | None]) -> float | None:
        return None if None in sizes else sum(size or 0 for size in sizes) / MB

    return {
        "reindexed": bool(rebuilt),
        "reindex_s": sum(r.seconds for r in rebuilt),
        "genealogy_index_mb_before": mb([r.bytes_before for r in rebuilt]) if rebuilt else None,
        "genealogy_index_mb": mb([r.bytes_after for r in rebuilt]) if rebuilt else None,
    }


def _disk(reads: DiskReads | None) -> dict[str, Any]:
    """What the database's disk read during the traces (all of it, warm-up included)."""
    if reads is None:
        return {"disk_reads": None, "disk_read_mb": None, "disk_read_ms": None}
    return {"disk_reads": reads.reads, "disk_read_mb": reads.bytes / MB, "disk_read_ms": reads.ms}


def _check_page_cache_droppable() -> None:
    """Before the load: a run that cannot drop the cache is refused before it spends an hour."""
    if not os.access(DROP_CACHES, os.W_OK):
        raise BenchError(f"--drop-page-cache: cannot write {DROP_CACHES} (Linux, as root)")


def _drop_page_cache() -> None:
    os.sync()  # only clean pages are dropped
    try:
        DROP_CACHES.write_text("3\n")
    except OSError as exc:
        raise BenchError(f"--drop-page-cache: {DROP_CACHES}: {exc.strerror}") from exc


def _settle(fresh: _Fresh, bar: Progress | None) -> float:
    """Seconds to bring the planner's statistics (and PostgreSQL's visibility map) up to
    date after the load."""
    task = None if bar is None else bar.add_task("vacuum + analyze", total=1)
    started = time.perf_counter()
    fresh.settle()
    if bar is not None and task is not None:
        bar.advance(task)
    return time.perf_counter() - started


def _measure(
    store: EpcisEvents,
    tenant: int,
    back: Sequence[str],
    forth: Sequence[str],
    depth: int,
    bar: Progress | None,
) -> dict[Direction, list[_Run]]:
    """Backward and forward traces in turn; the first ``WARMUP`` of each are not kept."""

    runs: dict[Direction, list[_Run]] = {Direction.BACKWARD: [], Direction.FORWARD: []}
    task = None if bar is None else bar.add_task("traces", total=len(back) + len(forth))
    for n, pair in enumerate(zip(back, forth, strict=True)):
        for direction, root in zip(runs, pair, strict=True):
            started = time.perf_counter_ns()
            walked = walk_stored(store, tenant, root, direction, depth)
            elapsed = time.perf_counter_ns() - started
            found = len(walked.found())
            if not found:
                raise BenchError(f"{direction} trace of {root} found nothing: the data is wrong")
            if n >= WARMUP:
                runs[direction].append(_Run(elapsed / 1e6, found, max(walked.depth.values())))
            if bar is not None and task is not None:
                bar.advance(task)
    return runs


def _figures(name: str, runs: list[_Run]) -> dict[str, float]:
    ms = np.array([r.ms for r in runs])
    p50, p99 = np.percentile(ms, [50, 99])
    return {
        f"{name}_p50_ms": float(p50),
        f"{name}_p99_ms": float(p99),
        f"{name}_max_ms": float(ms.max()),
        f"{name}_found_mean": float(np.mean([r.found for r in runs])),
        f"{name}_depth_mean": float(np.mean([r.depth for r in runs])),
        f"{name}_depth_min": float(min(r.depth for r in runs)),
    }


def _result(
    chain: SupplyChain,
    backend: str,
    loaded: _Loaded,
    settle_s: float,
    size_mb: float,
    runs: dict[Direction, list[_Run]],
    traces: int,
    depth: int,
) -> dict[str, Any]:
    figures = _figures("backward", runs[Direction.BACKWARD])
    figures |= _figures("forward", runs[Direction.FORWARD])
    return {
        "p99_ms": max(figures["backward_p99_ms"], figures["forward_p99_ms"]),
        "p50_ms": max(figures["backward_p50_ms"], figures["forward_p50_ms"]),
        **figures,
        "traces": traces,
        "warmup": WARMUP,
        "depth": depth,
        "events": chain.emitted,
        "epc_rows": loaded.epc_rows,
        "edge_share": chain.edge_share,
        "mix": dict(sorted(chain.mix.items())),
        "load_s": loaded.load_s,
        "events_per_s": chain.emitted / loaded.load_s if loaded.load_s else 0.0,
        "generate_s": loaded.generate_s,
        "analyze_s": settle_s,
        "db_mb": size_mb,
        "backend": backend,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- fresh catalogs --------------------------------------------------------------------


@contextlib.contextmanager
def _fresh_catalog(url: str | None) -> Iterator[_Fresh]:
    if url is None:
        with (
            tempfile.TemporaryDirectory(prefix="factoryos-bench-") as tmp,
            _sqlite(Path(tmp) / "trace.sqlite") as fresh,
        ):
            yield fresh
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        with _postgres(parsed) as fresh:
            yield fresh
    elif parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if path.exists():
            raise BenchError(f"--catalog-url: {path} exists; the benchmark needs a new file")
        try:
            with _sqlite(path) as fresh:
                yield fresh
        finally:
            for leftover in (path, path.with_name(path.name + "-journal")):
                leftover.unlink(missing_ok=True)
    else:
        raise BenchError(f"--catalog-url: {url!r} is not a PostgreSQL URL or an SQLite file")


@contextlib.contextmanager
def _sqlite(path: Path) -> Iterator[_Fresh]:
    catalog = Catalog(f"sqlite:///{path}")
    try:
        catalog.migrate()

        def settle() -> None:
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("ANALYZE")

        yield _Fresh(catalog, "sqlite", settle, lambda: path.stat().st_size / MB, lambda: path)
    finally:
        catalog.close()


@contextlib.contextmanager
def _postgres(url: URL) -> Iterator[_Fresh]:
    """A catalog in a new schema of the database at ``url``, dropped afterwards."""
    schema = f"bench_trace_{uuid.uuid4().hex[:8]}"
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    options = {"options": f"-csearch_path={schema}"}
    catalog = Catalog(
        url.set(drivername="postgresql+psycopg")
        .update_query_dict(options)
        .render_as_string(hide_password=False)
    )

    def settle() -> None:
        with psycopg.connect(libpq, autocommit=True) as conn:
            # After a bulk load the visibility map is empty until autovacuum runs; a
            # database in service has had it, so index-only scans are measured as they run.
            tables = ("epcis_events", "epcis_event_epcs", "epcis_genealogy")
            names = sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables)
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(names))

    def size_mb() -> float:
        with psycopg.connect(libpq) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind = 'r'",
                (schema,),
            ).fetchone()
        return float(row[0] if row else 0) / MB

    def files() -> Path | None:
        """The server's data directory, if the server is on this machine (a superuser may
        ask)."""
        if url.host not in LOCAL_HOSTS:
            return None
        with psycopg.connect(libpq, connect_timeout=10) as conn:
            try:
                row = conn.execute("SHOW data_directory").fetchone()
            except psycopg.errors.InsufficientPrivilege:
                return None
        return Path(row[0]) if row and Path(row[0]).is_dir() else None

    try:
        catalog.migrate()
        yield _Fresh(catalog, "postgresql", settle, size_mb, files)
    finally:
        catalog.close()
        with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


# -- the table -------------------------------------------------------------------------


def format_trace_table(result: dict[str, Any]) -> Table:
    """The result of :func:`run_trace_bench` as a Rich table."""
    table = Table(
        title=f"factoryos bench trace ({result['events']:,} events, {result['backend']}, "
        f"depth {result['depth']}, {result['traces']} traces each way + {result['warmup']} warm-up"
        f"{', page cache dropped' if result['page_cache_dropped'] else ''})"
    )
    for name in ("", "p50", "p99", "max", "identifiers found", "depth reached", "target"):
        table.add_column(name, justify="left" if not name else "right")
    for direction, label in (
        ("backward", "backward from a pallet"),
        ("forward", "forward from a raw lot"),
    ):
        table.add_row(
            label,
            f"{result[f'{direction}_p50_ms']:.1f} ms",
            f"{result[f'{direction}_p99_ms']:.1f} ms",
            f"{result[f'{direction}_max_ms']:.1f} ms",
            f"{result[f'{direction}_found_mean']:,.0f}",
            f"{result[f'{direction}_depth_min']:.0f}–{result[f'{direction}_depth_mean']:.1f}",
            f"p99 < {TARGET_P99_MS:.0f} ms",
        )
    table.add_row(
        "load",
        f"{result['load_s']:,.1f} s",
        f"{result['events_per_s']:,.0f} events/s",
        f"{result['epc_rows']:,} identifier rows",
        f"{result['edge_share']:.0%} genealogy edges",
        f"{result['db_mb']:,.0f} MB",
        "",
    )
    if result["reindexed"]:
        before, after = result["genealogy_index_mb_before"], result["genealogy_index_mb"]
        table.add_row(
            "index rebuild",
            f"{result['reindex_s']:,.1f} s",
            "" if before is None else f"{before:,.0f} → {after:,.0f} MB",
            *[""] * 4,
        )
    if result["disk_reads"] is not None:
        table.add_row(
            "disk during traces",
            f"{result['disk_reads']:,} reads",
            f"{result['disk_read_mb']:,.0f} MB",
            f"{result['disk_read_ms']:,} ms in reads",
            *[""] * 3,
        )
    return table


__all__ = [
    "MATERIALS",
    "SupplyChain",
    "chunks",
    "format_trace_table",
    "run_trace_bench",
]
