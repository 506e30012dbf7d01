"""The host application's view of one edge node: births, aliases, seq, bdSeq and deaths.

Pure: :meth:`NodeSession.handle` takes one MQTT message and returns the samples it carries
and whether to ask the node for a rebirth; the driver does the I/O. Rules (Sparkplug B 3.0):

- NBIRTH declares the node's metrics (name ↔ alias, data type) and its ``bdSeq``; it resets
  the seq and forgets every device, which births again after it.
- Every later message of the node or its devices (NDATA, DBIRTH, DDATA, DDEATH) carries the
  next seq (mod 256). A missing, skipped or repeated seq means lost messages: the session asks
  for a rebirth and ignores all data until the next NBIRTH, so nothing is read with an alias
  table that may be out of date.
- A DATA metric whose alias no BIRTH declared is counted and skipped (its message's other
  metrics still count) and asks for a rebirth.
- NDEATH counts only if its ``bdSeq`` is the current NBIRTH's: an older session's late will
  is ignored. A death turns every affected point BAD (NaN) at the time it is received.
- Bad input (unparsable topic or payload) is counted and logged once per topic; it never
  raises and never changes the session.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from factoryos.connect.errors import ConfigError
from factoryos.connect.sparkplug_b.errors import SparkplugDecodeError
from factoryos.connect.sparkplug_b.payload import (
    MAX_TS_MS,
    Key,
    Known,
    MetricColumns,
    Payload,
    bdseq_of,
    birth_index,
    decode_payload,
    read_metrics,
)
from factoryos.connect.sparkplug_b.topics import (
    NAMESPACE,
    EdgeTopic,
    MessageType,
    parse_topic,
)
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TAG_ID_DTYPE, SampleBatch

log = logging.getLogger(__name__)

_LOGGED_TOPICS_MAX = 1024  # topics remembered for log-once; past it, problems are only counted
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class PointSpec:
    """A point fed by a metric: engineering value = raw * scale + offset, outside
    [low, high] is UNCERTAIN."""

    tag_id: int
    metric: str
    scale: float = 1.0
    offset: float = 0.0
    low: float = -math.inf
    high: float = math.inf


@dataclass
class SparkplugStats:
    """Counters of one host driver (protocol counters from the session, connection ones
    from the driver)."""

    messages: int = 0
    samples: int = 0
    births: int = 0
    deaths: int = 0
    stale_deaths: int = 0
    seq_gaps: int = 0
    unknown_aliases: int = 0
    decode_errors: int = 0
    ignored: int = 0  # messages dropped while waiting for a rebirth
    rebirth_requests: int = 0
    oversized: int = 0
    connected: bool = False
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one message gives: samples to publish, and why to ask for a rebirth (or None)."""

    batch: SampleBatch | None = None
    rebirth: str | None = None


_NOTHING = Outcome()


class NodeSession:
    """One edge node of a group; its points are metrics of the node (``device_id`` None) or
    of one of its devices."""

    def __init__(
        self,
        group_id: str,
        edge_node_id: str,
        device_id: str | None,
        points: Sequence[PointSpec],
        stats: SparkplugStats | None = None,
    ) -> None:
        self.group_id = group_id
        self.edge_node_id = edge_node_id
        self.device_id = device_id
        self.stats = stats or SparkplugStats()
        self._slot_of: dict[str, int] = {}
        for slot, p in enumerate(points):
            if p.metric in self._slot_of:
                raise ConfigError(f"{self.name}: two tags read metric {p.metric!r}")
            self._slot_of[p.metric] = slot
        self._tag_ids = np.array([p.tag_id for p in points], dtype=TAG_ID_DTYPE)
        self._scale = np.array([p.scale for p in points], dtype=np.float64)
        self._offset = np.array([p.offset for p in points], dtype=np.float64)
        self._low = np.array([p.low for p in points], dtype=np.float64)
        self._high = np.array([p.high for p in points], dtype=np.float64)
        self._logged: set[tuple[str, str]] = set()
        self.reset()

    @property
    def name(self) -> str:
        tail = f"/{self.device_id}" if self.device_id else ""
        return f"{self.group_id}/{self.edge_node_id}{tail}"

    @property
    def subscriptions(self) -> tuple[str, str]:
        """The topic filters of the node's and its devices' messages."""
        base = f"{NAMESPACE}/{self.group_id}/+/{self.edge_node_id}"
        return base, f"{base}/+"

    @property
    def born(self) -> bool:
        """Whether data is being read: an NBIRTH seen, no death or gap since."""
        return self._born and not self._awaiting_rebirth

    def reset(self) -> None:
        """Forget every birth (a new broker connection): wait for the next NBIRTH."""
        self._born = False
        self._awaiting_rebirth = False
        self._bdseq: int | None = None
        self._seq = 0
        self._node_index: dict[Key, Known] = {}
        self._device_index: dict[str, dict[Key, Known]] = {}

    def lost(self, now_ns: int) -> SampleBatch:
        """The connection to the broker is gone: every point BAD at ``now_ns``."""
        self.reset()
        return self._all_bad(now_ns)

    def handle(self, topic: str, data: bytes, now_ns: int) -> Outcome:
        """The samples of one message and whether to ask for a rebirth; never raises for
        bad input."""
        self.stats.messages += 1
        try:
            parsed = parse_topic(topic)
        except SparkplugDecodeError as exc:
            return self._bad_input(topic, exc)
        if not isinstance(parsed, EdgeTopic) or not self._ours(parsed):
            return _NOTHING
        try:
            payload = decode_payload(data)
        except SparkplugDecodeError as exc:
            return self._bad_input(topic, exc)
        kind = parsed.type
        if kind is MessageType.NBIRTH:
            return self._node_birth(payload, now_ns)
        if kind is MessageType.NDEATH:
            return self._node_death(topic, payload, now_ns)
        if not self._in_sequence(topic, payload):
            return Outcome(rebirth=f"{kind} {topic} out of sequence or before NBIRTH")
        if kind is MessageType.NDATA:
            return self._data(topic, payload, self._node_index, now_ns, self.device_id is None)
        device = parsed.device_id or ""
        if kind is MessageType.DBIRTH:
            return self._device_birth(device, payload, now_ns)
        if kind is MessageType.DDEATH:
            return self._device_death(device, payload, now_ns)
        index = self._device_index.get(device)
        if index is None:
            self.stats.unknown_aliases += 1
            self._once("device", topic, "DDATA from device %s that has no DBIRTH", device)
            return Outcome(rebirth=f"DDATA from unborn device {device}")
        return self._data(topic, payload, index, now_ns, device == self.device_id)

    # -- message kinds --------------------------------------------------------------------

    def _ours(self, parsed: EdgeTopic) -> bool:
        return (
            parsed.group_id == self.group_id
            and parsed.edge_node_id == self.edge_node_id
            and parsed.type not in (MessageType.NCMD, MessageType.DCMD)
        )

    def _node_birth(self, payload: Payload, now_ns: int) -> Outcome:
        node_points = self._slot_of if self.device_id is None else {}
        self._node_index = birth_index(payload, node_points)
        self._device_index.clear()
        self._bdseq = bdseq_of(payload)
        self._seq = payload.seq if payload.HasField("seq") else 0
        if self._awaiting_rebirth or not self._born:
            log.info("edge node %s born (bdSeq %s)", self.name, self._bdseq)
        self._born, self._awaiting_rebirth = True, False
        self.stats.births += 1
        if self.device_id is not None:
            return _NOTHING
        return Outcome(self._samples(read_metrics(payload, self._node_index, _ms(payload, now_ns))))

    def _node_death(self, topic: str, payload: Payload, now_ns: int) -> Outcome:
        bdseq = bdseq_of(payload)
        if not self._born:
            return _NOTHING
        if bdseq != self._bdseq:
            self.stats.stale_deaths += 1
            log.info("%s: ignored NDEATH of bdSeq %s (current %s)", topic, bdseq, self._bdseq)
            return _NOTHING
        log.warning("edge node %s died (NDEATH bdSeq %s)", self.name, bdseq)
        self.stats.deaths += 1
        self.reset()
        return Outcome(self._all_bad(now_ns))

    def _device_birth(self, device: str, payload: Payload, now_ns: int) -> Outcome:
        mine = device == self.device_id
        index = birth_index(payload, self._slot_of if mine else {})
        self._device_index[device] = index
        if not mine:
            return _NOTHING
        self.stats.births += 1
        return Outcome(self._samples(read_metrics(payload, index, _ms(payload, now_ns))))

    def _device_death(self, device: str, payload: Payload, now_ns: int) -> Outcome:
        self._device_index.pop(device, None)
        if device != self.device_id:
            return _NOTHING
        log.warning("device %s died (DDEATH)", self.name)
        self.stats.deaths += 1
        return Outcome(self._all_bad(_ms(payload, now_ns) * _NS_PER_MS))

    def _data(
        self, topic: str, payload: Payload, index: dict[Key, Known], now_ns: int, mine: bool
    ) -> Outcome:
        if not mine:
            return _NOTHING
        columns = read_metrics(payload, index, _ms(payload, now_ns))
        batch = self._samples(columns)
        if not columns.unknown:
            return Outcome(batch)
        self.stats.unknown_aliases += columns.unknown
        self._once(
            "alias",
            topic,
            "%d metrics with unknown alias or name (first %r)",
            columns.unknown,
            columns.first_unknown,
        )
        return Outcome(batch, rebirth=f"unknown metric {columns.first_unknown!r} in {topic}")

    def _in_sequence(self, topic: str, payload: Payload) -> bool:
        if not self._born or self._awaiting_rebirth:
            self.stats.ignored += 1
            return False
        expected = (self._seq + 1) % 256
        if payload.HasField("seq") and payload.seq == expected:
            self._seq = expected
            return True
        got = payload.seq if payload.HasField("seq") else None
        log.warning("%s: seq %s where %d was due; waiting for a rebirth", topic, got, expected)
        self.stats.seq_gaps += 1
        self._awaiting_rebirth = True
        return False

    # -- samples --------------------------------------------------------------------------

    def _samples(self, columns: MetricColumns) -> SampleBatch:
        slots = columns.slots
        values = columns.values * self._scale[slots] + self._offset[slots]
        outside = (values < self._low[slots]) | (values > self._high[slots])
        quality = np.where(
            (columns.quality == Quality.GOOD) & outside, Quality.UNCERTAIN, columns.quality
        ).astype(QUALITY_DTYPE)
        self.stats.samples += len(slots)
        return SampleBatch(self._tag_ids[slots], columns.ts_ms * _NS_PER_MS, values, quality)

    def _all_bad(self, ts_ns: int) -> SampleBatch:
        n = len(self._tag_ids)
        return SampleBatch.build(self._tag_ids, ts_ns, np.full(n, np.nan), np.full(n, Quality.BAD))

    # -- bad input ------------------------------------------------------------------------

    def _bad_input(self, topic: str, exc: SparkplugDecodeError) -> Outcome:
        self.stats.decode_errors += 1
        self._once("decode", topic, "%s", exc)
        return _NOTHING

    def _once(self, kind: str, topic: str, message: str, *args: object) -> None:
        """Log a problem the first time it shows on a topic; later ones are only counted."""
        if (kind, topic) in self._logged or len(self._logged) >= _LOGGED_TOPICS_MAX:
            return
        self._logged.add((kind, topic))
        log.warning("Sparkplug topic %r: %s", topic[:200], message % args)


def _ms(payload: Payload, now_ns: int) -> int:
    """The payload's timestamp, else the receive time, in ms."""
    if payload.HasField("timestamp") and payload.timestamp <= MAX_TS_MS:
        return payload.timestamp
    return now_ns // _NS_PER_MS
