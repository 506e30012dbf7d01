"""Ground truth: what really happened in the virtual factory, to check the apps against.

One record per event, never per sample: state intervals per equipment, every part made,
every fault injected and every failure. Parts are many (a packer makes ~10,000 a day), so
they are kept in compact typed arrays and handed out as numpy columns.
"""

import json
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from factoryos.sim.states import FaultKind, MachineState


@dataclass(frozen=True, slots=True)
class StateInterval:
    """Equipment was in ``state`` over ``[start_ns, end_ns)``; ``end_ns`` None = still is."""

    equipment: str
    state: MachineState
    start_ns: int
    end_ns: int | None


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """A fault injected at ``ts_ns`` (see :class:`FaultKind` for what each kind does)."""

    ts_ns: int
    equipment: str
    kind: FaultKind
    severity: float
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class FailureEvent:
    """Equipment went UNPLANNED_DOWN at ``ts_ns`` for ``repair_s`` seconds.

    ``cause`` is ``wear`` (health ran out: the event predictive maintenance should
    foresee), ``jam`` (a random minor stop) or ``breakdown`` (an injected fault).
    """

    ts_ns: int
    equipment: str
    cause: str
    repair_s: float


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """A planned stop (maintenance, a holiday) scheduled on ``equipment`` over
    ``[start_ns, end_ns)``, beyond its daily shift plan."""

    equipment: str
    start_ns: int
    end_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class Parts:
    """Every part made, as aligned columns sorted by equipment registration then time.

    ``equipment[i]`` indexes ``equipment_names``; ``good[i]`` is False for scrap.
    """

    ts_ns: npt.NDArray[np.int64]
    equipment: npt.NDArray[np.int32]
    good: npt.NDArray[np.bool_]
    equipment_names: tuple[str, ...]

    def of(self, equipment: str) -> "Parts":
        """Only the parts of one equipment path."""
        keep = self.equipment == self.equipment_names.index(equipment)
        return Parts(self.ts_ns[keep], self.equipment[keep], self.good[keep], self.equipment_names)


class GroundTruth:
    """The event log of one factory run; machines append, tests and checks read."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._open: list[tuple[MachineState, int] | None] = []
        self._closed: list[list[StateInterval]] = []
        self._part_ts: list[array[int]] = []
        self._part_good: list[array[int]] = []
        self.faults: list[FaultEvent] = []
        self.failures: list[FailureEvent] = []
        self.planned_stops: list[PlannedStop] = []

    def register(self, equipment: str) -> int:
        """Start recording for ``equipment``; returns its index for the append calls."""
        self._names.append(equipment)
        self._open.append(None)
        self._closed.append([])
        self._part_ts.append(array("q"))
        self._part_good.append(array("b"))
        return len(self._names) - 1

    def state(self, index: int, state: MachineState, ts_ns: int) -> None:
        """Equipment ``index`` is in ``state`` from ``ts_ns`` (no-op when unchanged).

        Two changes at the same instant keep only the last: no zero-length intervals.
        """
        current = self._open[index]
        closed = self._closed[index]
        if current is not None:
            if current[0] == state:
                return
            if ts_ns > current[1]:
                closed.append(StateInterval(self._names[index], current[0], current[1], ts_ns))
            elif closed and closed[-1].state == state:
                self._open[index] = (state, closed.pop().start_ns)
                return
        self._open[index] = (state, ts_ns)

    def part(self, index: int, ts_ns: int, good: bool) -> None:
        """Equipment ``index`` completed a part at ``ts_ns``."""
        self._part_ts[index].append(ts_ns)
        self._part_good[index].append(good)

    def intervals(self, equipment: str | None = None) -> list[StateInterval]:
        """State intervals in time order per equipment, the current one open-ended."""
        out: list[StateInterval] = []
        for name, closed, current in zip(self._names, self._closed, self._open, strict=True):
            if equipment is not None and name != equipment:
                continue
            out.extend(closed)
            if current is not None:
                out.append(StateInterval(name, current[0], current[1], None))
        return out

    def parts(self) -> Parts:
        """Every part made so far (copies; later parts do not change the result)."""
        counts = [len(a) for a in self._part_ts]
        ts = np.zeros(sum(counts), dtype=np.int64)
        good = np.zeros(sum(counts), dtype=np.bool_)
        at = 0
        for ts_a, good_a, n in zip(self._part_ts, self._part_good, counts, strict=True):
            ts[at : at + n] = np.frombuffer(ts_a, dtype=np.int64)
            good[at : at + n] = np.frombuffer(good_a, dtype=np.int8)
            at += n
        eq = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        return Parts(ts, eq, good, tuple(self._names))

    def write_jsonl(self, path: Path | str) -> None:
        """Every event as one JSON object per line, each with a ``type`` field."""
        with Path(path).open("w", encoding="utf-8") as out:
            for iv in self.intervals():
                out.write(json.dumps({"type": "state", **asdict(iv), "state": iv.state.name}))
                out.write("\n")
            for fault in self.faults:
                out.write(json.dumps({"type": "fault", **asdict(fault)}) + "\n")
            for failure in self.failures:
                out.write(json.dumps({"type": "failure", **asdict(failure)}) + "\n")
            for stop in self.planned_stops:
                out.write(json.dumps({"type": "planned_stop", **asdict(stop)}) + "\n")
            p = self.parts()
            columns = (p.ts_ns.tolist(), p.equipment.tolist(), p.good.tolist())
            for ts, eq, good in zip(*columns, strict=True):
                row = {"type": "part", "ts_ns": ts, "equipment": p.equipment_names[eq]}
                out.write(json.dumps({**row, "good": good}) + "\n")

    def write_parquet(self, directory: Path | str) -> None:
        """``states``, ``parts``, ``faults`` and ``failures`` tables as Parquet files."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        states = [{**asdict(iv), "state": iv.state.name} for iv in self.intervals()]
        p = self.parts()
        names = np.asarray(p.equipment_names, dtype=object)
        tables = {
            "states": pa.Table.from_pylist(states, schema=_STATE_SCHEMA),
            "faults": pa.Table.from_pylist([asdict(f) for f in self.faults], _FAULT_SCHEMA),
            "failures": pa.Table.from_pylist([asdict(f) for f in self.failures], _FAIL_SCHEMA),
            "planned_stops": pa.Table.from_pylist(
                [asdict(stop) for stop in self.planned_stops], _PLANNED_SCHEMA
            ),
            "parts": pa.table(
                {"ts_ns": p.ts_ns, "equipment": names[p.equipment].tolist(), "good": p.good}
            ),
        }
        for name, table in tables.items():
            pq.write_table(table, d / f"{name}.parquet")


_INT, _STR, _FLOAT = pa.int64(), pa.string(), pa.float64()
_STATE_SCHEMA = pa.schema(
    [("equipment", _STR), ("state", _STR), ("start_ns", _INT), ("end_ns", _INT)]
)
_FAULT_SCHEMA = pa.schema(
    [
        ("ts_ns", _INT),
        ("equipment", _STR),
        ("kind", _STR),
        ("severity", _FLOAT),
        ("duration_s", _FLOAT),
    ]
)
_FAIL_SCHEMA = pa.schema(
    [("ts_ns", _INT), ("equipment", _STR), ("cause", _STR), ("repair_s", _FLOAT)]
)
_PLANNED_SCHEMA = pa.schema(
    [("equipment", _STR), ("start_ns", _INT), ("end_ns", _INT), ("reason", _STR)]
)
