"""From counter samples to production events: one state machine per line, no I/O.

A line's unit counter (good parts of its last machine) rises by one for every finished
unit. Each unit joins the open lot (the first opens one: *lot start*); the lot's
``lot_size``-th unit finishes it (*lot finish*, the units get their serials). Finished
units wait to be packed: a case closes when ``case_size`` of them wait, at the next rise of
the packer's counter when one is configured, else at once (*packing*). When
``cases_per_shipment`` cases wait, they leave for the next customer in turn (*shipping*).

Identity comes from time, not from a sequence kept somewhere: a lot is numbered by its
start (``H1`` + ``yymmddHHMMSS`` UTC), a unit by its lot and place in it
(``H1250106081503-0007``), a case's SSCC by the second it closed, a shipment by the second it
left; two in the same second take the next free second. So the same samples always give the
same identifiers and eventIDs (a replay is stored once), and a restart, later in time,
never reuses one.

Counters are cumulative, so a sample lost (a dropped batch, a bad read) loses no unit: the
next good sample counts them, at its time. A drop is a reset (the counter restarted from 0
and counted its new value); a rise beyond ``max_units_per_sample`` is not believed and
counting restarts from the new value. Samples older than the last one of their tag
(redeliveries) are ignored.
"""

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from factoryos.apps.trace.production import events as ev
from factoryos.apps.trace.production.config import LinePlan
from factoryos.apps.trace.production.events import Event
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

NS_PER_S = 1_000_000_000
SSCC_EPOCH_S = 1_577_836_800  # 2020-01-01T00:00:00Z: SSCC serials count seconds from here
MAX_WAITING_UNITS = 100_000
"""Units waiting for a packer whose counter does not move; beyond, cases close without it
(the state stays bounded; :attr:`TrackerStats.unpaced_cases` counts them)."""


@dataclass
class Counter:
    """A cumulative counter read sample by sample."""

    limit: int  # the largest rise believed between two samples
    last: int | None = None
    last_ts: int | None = None

    def rise(self, ts_ns: int, value: float) -> int | None:
        """Units counted since the previous sample; None when this sample counts nothing:
        older than the last, not a whole number ≥ 0, or a rise beyond ``limit`` (counting
        then restarts from it). The first sample is the baseline: 0."""
        if self.last_ts is not None and ts_ns <= self.last_ts:
            return None
        if not math.isfinite(value) or value < 0 or value != int(value):
            return None
        old, self.last, self.last_ts = self.last, int(value), ts_ns
        if old is None:
            return 0
        rise = self.last - old if self.last >= old else self.last  # a drop is a reset to 0
        return rise if rise <= self.limit else None


@dataclass
class TrackerStats:
    units: int = 0
    lots_started: int = 0
    lots_finished: int = 0
    cases: int = 0
    shipments: int = 0
    skipped_samples: int = 0
    unpaced_cases: int = 0


@dataclass
class _Lot:
    number: str
    units: list[str] = field(default_factory=list)
    last_ts: int = 0


class _Clock:
    """Whole seconds handed out strictly increasing: identities from time never repeat."""

    def __init__(self) -> None:
        self.last = -1

    def take(self, ts_ns: int) -> int:
        self.last = max(ts_ns // NS_PER_S, self.last + 1)
        return self.last


def stamp(second: int) -> str:
    """``yymmddHHMMSS`` in UTC."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(second))


class LineTracker:
    """One line's production, from its counters' samples to EPCIS events."""

    def __init__(self, plan: LinePlan) -> None:
        self.plan = plan
        self.stats = TrackerStats()
        self._units = Counter(plan.max_units_per_sample)
        self._packer = Counter(plan.max_units_per_sample)
        self._lot: _Lot | None = None
        self._to_pack: deque[str] = deque()
        self._to_ship: list[str] = []
        self._lots, self._cases, self._shipments = _Clock(), _Clock(), _Clock()

    # -- samples in ----------------------------------------------------------------------

    def on_units(self, ts_ns: int, value: float) -> list[Event]:
        """A sample of the unit counter."""
        rise = self._units.rise(ts_ns, value)
        if rise is None:
            self.stats.skipped_samples += 1
            return []
        out: list[Event] = []
        for _ in range(rise):
            out += self._unit(ts_ns)
        return out

    def on_packer(self, ts_ns: int, value: float) -> list[Event]:
        """A sample of the packer's counter: each rise may close a case."""
        rise = self._packer.rise(ts_ns, value)
        if rise is None:
            self.stats.skipped_samples += 1
            return []
        out: list[Event] = []
        for _ in range(rise):
            if len(self._to_pack) < self.plan.case_size:
                break
            out += self._pack(ts_ns)
        return out

    def close(self) -> list[Event]:
        """The line stops being watched: the open lot is finished with the units it has
        (at its last unit's time), so none is left without its lot and serial."""
        if self._lot is None or not self._lot.units:
            return []
        return self._finish(self._lot.last_ts)

    # -- what happens ----------------------------------------------------------------------

    def _unit(self, ts_ns: int) -> list[Event]:
        out: list[Event] = []
        if self._lot is None:
            self._lot = _Lot(self.plan.code + stamp(self._lots.take(ts_ns)))
            self.stats.lots_started += 1
            out.append(ev.lot_started(self.plan, self._lot.number, ts_ns))
        lot = self._lot
        lot.units.append(ev.sgtin(self.plan, f"{lot.number}-{len(lot.units) + 1:04d}"))
        lot.last_ts = ts_ns
        self.stats.units += 1
        if len(lot.units) >= self.plan.lot_size:
            out += self._finish(ts_ns)
        return out

    def _finish(self, ts_ns: int) -> list[Event]:
        assert self._lot is not None
        lot, self._lot = self._lot, None
        self.stats.lots_finished += 1
        out = [ev.lot_finished(self.plan, lot.number, ts_ns, lot.units)]
        self._to_pack.extend(lot.units)
        return out + self._pack_unpaced(ts_ns)

    def _pack_unpaced(self, ts_ns: int) -> list[Event]:
        """Cases that close without a rise of the packer's counter: every full one when the
        line has no packer counter, else only those beyond MAX_WAITING_UNITS."""
        paced = self.plan.packer_tag is not None
        limit = MAX_WAITING_UNITS if paced else self.plan.case_size - 1
        out: list[Event] = []
        while len(self._to_pack) > limit and len(self._to_pack) >= self.plan.case_size:
            if paced:
                self.stats.unpaced_cases += 1
            out += self._pack(ts_ns)
        return out

    def _pack(self, ts_ns: int) -> list[Event]:
        units = [self._to_pack.popleft() for _ in range(self.plan.case_size)]
        second = self._cases.take(ts_ns)
        case = ev.sscc(self.plan, second - SSCC_EPOCH_S)
        self.stats.cases += 1
        self._to_ship.append(case)
        out = [ev.case_packed(self.plan, case, ts_ns, units)]
        if len(self._to_ship) >= self.plan.cases_per_shipment:
            out.append(self._ship(ts_ns))
        return out

    def _ship(self, ts_ns: int) -> Event:
        cases, self._to_ship = self._to_ship, []
        number = self.plan.code + stamp(self._shipments.take(ts_ns))
        customers = self.plan.customers
        customer = customers[self.stats.shipments % len(customers)]  # round-robin
        self.stats.shipments += 1
        return ev.shipped(self.plan, number, ts_ns, cases, customer)


class SampleRouter:
    """Sends the watched counters' good samples of each batch, oldest first, to their
    lines' trackers."""

    def __init__(self, plans: Sequence[LinePlan], tag_ids: dict[str, int]) -> None:
        self.trackers = [LineTracker(plan) for plan in plans]
        self._routes: dict[int, list[tuple[LineTracker, bool]]] = {}
        for tracker in self.trackers:
            plan = tracker.plan
            self._routes.setdefault(tag_ids[plan.unit_tag], []).append((tracker, True))
            if plan.packer_tag is not None:
                self._routes.setdefault(tag_ids[plan.packer_tag], []).append((tracker, False))
        self.tag_ids = np.array(sorted(self._routes), dtype=np.int32)

    def feed(self, batch: SampleBatch) -> list[Event]:
        keep = np.isin(batch.tag_ids, self.tag_ids) & (batch.quality == Quality.GOOD)
        tags, ts, values = batch.tag_ids[keep], batch.ts[keep], batch.values[keep]
        order = np.lexsort((tags, ts))  # by time, then tag: the same batch, the same events
        out: list[Event] = []
        for tag, t, value in zip(
            tags[order].tolist(), ts[order].tolist(), values[order].tolist(), strict=True
        ):
            for tracker, is_unit in self._routes[tag]:
                out += tracker.on_units(t, value) if is_unit else tracker.on_packer(t, value)
        return out

    def close(self) -> list[Event]:
        """Every line's open lot finished with what it has (see :meth:`LineTracker.close`)."""
        return [event for tracker in self.trackers for event in tracker.close()]


__all__ = ["Counter", "LineTracker", "SampleRouter", "TrackerStats", "stamp"]
