"""Machine states, faults and the shift calendar shared by every machine model."""

from dataclasses import dataclass
from enum import IntEnum, StrEnum

NS_PER_S = 1_000_000_000
_S_PER_DAY = 86_400.0


class MachineState(IntEnum):
    """Machine state; the value is the code written to the ``state`` register.

    Codes follow the PackML (ISA-TR88) state numbers so a PackML-aware client reads them
    naturally:

    ========================  ====  ======================================================
    state                     code  PackML state and meaning here
    ========================  ====  ======================================================
    ``PLANNED_STOP``          2     Stopped: outside the shift plan (nights, breaks)
    ``IDLE``                  4     Idle: ready but not producing (starved, no operator)
    ``RUNNING``               6     Execute: producing parts
    ``UNPLANNED_DOWN``        9     Aborted: failure, jam or injected breakdown, in repair
    ``SETUP``                 11    Held: changeover between batches, warm-up after a stop
    ========================  ====  ======================================================
    """

    PLANNED_STOP = 2
    IDLE = 4
    RUNNING = 6
    UNPLANNED_DOWN = 9
    SETUP = 11


#: Row order of the per-state signal tables in the machine models.
STATE_ROWS: tuple[MachineState, ...] = (
    MachineState.RUNNING,
    MachineState.IDLE,
    MachineState.SETUP,
    MachineState.PLANNED_STOP,
    MachineState.UNPLANNED_DOWN,
)
ROW_OF: dict[MachineState, int] = {s: i for i, s in enumerate(STATE_ROWS)}


class FaultKind(StrEnum):
    """Faults that can be injected with :meth:`VirtualFactory.inject_fault`.

    - ``breakdown``: the machine goes UNPLANNED_DOWN now for ``duration_s`` (default: a
      random repair time); health is unchanged.
    - ``wear``: degradation runs ``1 + 20 * severity`` times faster (bearing damage:
      vibration and temperature climb) until the machine fails from wear and is overhauled.
    - ``overheat``: the first temperature drifts ``20 * severity`` °C above normal for
      ``duration_s`` (default 3600 s), with the channel's thermal lag.
    - ``air_leak`` (compressors only): air demand rises by ``2 * severity`` m³/min for
      ``duration_s`` (default: until the end of the run).
    """

    BREAKDOWN = "breakdown"
    WEAR = "wear"
    OVERHEAT = "overheat"
    AIR_LEAK = "air_leak"


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    """Daily production window in UTC hours, with one break; outside it is a planned stop.

    ``start_h=0, end_h=24, break_min=0`` means the equipment is always planned to run.
    """

    start_h: float
    end_h: float
    break_start_h: float
    break_min: float

    def planned_stop(self, t_ns: int) -> bool:
        """True when ``t_ns`` falls outside the production window or inside the break."""
        hour = (t_ns / NS_PER_S % _S_PER_DAY) / 3600.0
        if hour < self.start_h or hour >= self.end_h:
            return True
        return self.break_start_h <= hour < self.break_start_h + self.break_min / 60.0

    def in_shift(self, t_ns: int) -> bool:
        """True inside the production window (breaks included)."""
        hour = (t_ns / NS_PER_S % _S_PER_DAY) / 3600.0
        return self.start_h <= hour < self.end_h
