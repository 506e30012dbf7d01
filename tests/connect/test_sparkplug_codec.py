"""Sparkplug B codec and host session logic, without a broker: topics, payloads, STATE,
births/aliases/seq/bdSeq rules, and fuzzing of every decoder."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.connect.errors import ConfigError
from factoryos.connect.sparkplug_b import (
    BDSEQ,
    DataType,
    EdgeTopic,
    HostState,
    MessageType,
    MetricDef,
    NodeSession,
    Payload,
    PointSpec,
    SparkplugDecodeError,
    SparkplugEncodeError,
    StateTopic,
    asks_rebirth,
    bdseq_of,
    birth_index,
    decode_payload,
    decode_state,
    edge_topic,
    encode_birth,
    encode_data,
    encode_device_death,
    encode_node_death,
    encode_rebirth_request,
    encode_state,
    parse_topic,
    read_metrics,
    state_topic,
)
from factoryos.model.quality import Quality

G, N = "plant", "gw1"
NOW_NS = 1_700_000_000_000 * 1_000_000


def test_topics_round_trip() -> None:
    t = edge_topic(G, MessageType.DDATA, N, "press")
    assert t == "spBv1.0/plant/DDATA/gw1/press"
    assert parse_topic(t) == EdgeTopic(G, MessageType.DDATA, N, "press")
    assert parse_topic("spBv1.0/plant/NBIRTH/gw1") == EdgeTopic(G, MessageType.NBIRTH, N)
    assert parse_topic(state_topic("scada")) == StateTopic("scada")
    assert str(EdgeTopic(G, MessageType.NCMD, N)) == "spBv1.0/plant/NCMD/gw1"


@pytest.mark.parametrize(
    ("topic", "why"),
    [
        ("spAv1.0/plant/NDATA/gw1", "namespace"),
        ("spBv1.0/plant/NDATA", "levels"),
        ("spBv1.0/plant/XDATA/gw1", "unknown message type"),
        ("spBv1.0/plant/DDATA/gw1", "5 levels"),
        ("spBv1.0/plant/NDATA/gw1/dev", "4 levels"),
        ("spBv1.0//NDATA/gw1", "empty id"),
        ("spBv1.0/STATE/", "empty host id"),
    ],
)
def test_bad_topics_name_the_problem(topic: str, why: str) -> None:
    with pytest.raises(SparkplugDecodeError, match=why):
        parse_topic(topic)


def test_edge_topic_refuses_wildcards_and_missing_device() -> None:
    with pytest.raises(ValueError, match="ids"):
        edge_topic("a+b", MessageType.NDATA, N)
    with pytest.raises(ValueError, match="needs device id"):
        edge_topic(G, MessageType.DDATA, N)


def _birth(defs: list[MetricDef], values: list[float], *, seq: int = 0, bdseq: int = 3) -> bytes:
    n = len(defs)
    return encode_birth(
        ts_ms=1_000,
        seq=seq,
        defs=defs,
        values=np.array(values, dtype=np.float64),
        ts_ms_col=np.full(n, 1_000, dtype=np.int64),
        quality=np.zeros(n, dtype=np.uint8),
        bdseq=bdseq,
    )


def _data(
    aliases: list[int], values: list[float], seq: int, quality: list[int] | None = None
) -> bytes:
    n = len(aliases)
    return encode_data(
        ts_ms=5_000,
        seq=seq,
        aliases=np.array(aliases, dtype=np.int64),
        ts_ms_col=np.arange(n, dtype=np.int64) + 2_000,
        values=np.array(values, dtype=np.float64),
        quality=np.array(quality or [0] * n, dtype=np.uint8),
    )


def test_birth_declares_control_metrics_names_aliases_and_units() -> None:
    payload = decode_payload(_birth([MetricDef("a/power", 7, "kW")], [1.5], bdseq=9))
    names = [m.name for m in payload.metrics]
    assert names == [BDSEQ, "Node Control/Rebirth", "a/power"]
    assert bdseq_of(payload) == 9
    power = payload.metrics[2]
    assert (power.alias, power.datatype, power.double_value) == (7, DataType.DOUBLE, 1.5)
    assert list(power.properties.keys) == ["engUnit"]
    assert power.properties.values[0].string_value == "kW"


def test_data_by_alias_reads_back_values_times_and_quality() -> None:
    index = birth_index(
        decode_payload(_birth([MetricDef("a", 1), MetricDef("b", 2)], [0, 0])), {"a": 0, "b": 1}
    )
    data = _data(
        [2, 1, 1], [2.5, math.nan, 4.0], seq=1, quality=[0, Quality.BAD, Quality.UNCERTAIN]
    )
    cols = read_metrics(decode_payload(data), index, default_ts_ms=9)
    assert cols.slots.tolist() == [1, 0, 0]
    assert cols.ts_ms.tolist() == [2_000, 2_001, 2_002]
    assert cols.values[0] == 2.5 and math.isnan(cols.values[1]) and cols.values[2] == 4.0
    assert cols.quality.tolist() == [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN]
    assert cols.unknown == 0


def test_metric_datatypes_become_floats() -> None:
    payload = Payload()
    cases: list[tuple[DataType, str, object, float]] = [
        (DataType.INT8, "int_value", 0xFF, -1.0),
        (DataType.INT8, "int_value", 0xFFFFFFFF, -1.0),
        (DataType.INT16, "int_value", 0x8000, -32768.0),
        (DataType.INT32, "int_value", 0xFFFFFFFE, -2.0),
        (DataType.INT64, "long_value", 2**64 - 5, -5.0),
        (DataType.UINT32, "int_value", 0xFFFFFFFF, 4294967295.0),
        (DataType.UINT64, "long_value", 2**63, 2.0**63),
        (DataType.FLOAT, "float_value", 0.5, 0.5),
        (DataType.BOOLEAN, "boolean_value", True, 1.0),
        (DataType.STRING, "string_value", " 12.5 ", 12.5),
        (DataType.DATETIME, "long_value", 1_700_000_000_000, 1.7e12),
    ]
    for i, (datatype, field, raw, _) in enumerate(cases):
        m = payload.metrics.add(name=f"m{i}", alias=i, datatype=datatype)
        setattr(m, field, raw)
    index = birth_index(payload, {f"m{i}": i for i in range(len(cases))})
    cols = read_metrics(payload, index, default_ts_ms=1)
    assert cols.values.tolist() == [c[3] for c in cases]
    assert (cols.quality == Quality.GOOD).all()
    assert (cols.ts_ms == 1).all()


def test_values_that_are_no_number_are_bad() -> None:
    payload = Payload()
    payload.metrics.add(name="text", alias=1, datatype=DataType.STRING, string_value="running")
    payload.metrics.add(name="blob", alias=2, datatype=17, bytes_value=b"\x00")
    payload.metrics.add(name="none", alias=3, datatype=DataType.DOUBLE, is_null=True)
    payload.metrics.add(name="empty", alias=4, datatype=DataType.DOUBLE)
    payload.metrics.add(name="nan", alias=5, datatype=DataType.DOUBLE, double_value=math.nan)
    index = birth_index(payload, {"text": 0, "blob": 1, "none": 2, "empty": 3, "nan": 4})
    cols = read_metrics(payload, index, default_ts_ms=1)
    assert np.isnan(cols.values).all()
    assert (cols.quality == Quality.BAD).all()


def test_unknown_alias_is_counted_and_other_metrics_still_read() -> None:
    index = birth_index(decode_payload(_birth([MetricDef("a", 1)], [0])), {"a": 0})
    cols = read_metrics(decode_payload(_data([1, 99], [1.0, 2.0], seq=1)), index, 0)
    assert cols.values.tolist() == [1.0]
    assert (cols.unknown, cols.first_unknown) == (1, 99)


def test_death_rebirth_and_device_death_payloads() -> None:
    death = decode_payload(encode_node_death(ts_ms=5, bdseq=200))
    assert bdseq_of(death) == 200 and not death.HasField("seq")
    assert asks_rebirth(decode_payload(encode_rebirth_request(ts_ms=5)))
    assert not asks_rebirth(death)
    ddeath = decode_payload(encode_device_death(ts_ms=5, seq=4))
    assert ddeath.seq == 4 and not ddeath.metrics


def test_encoders_refuse_out_of_range_seq_and_alias() -> None:
    with pytest.raises(SparkplugEncodeError, match=r"0\.\.255"):
        encode_node_death(ts_ms=1, bdseq=256)
    with pytest.raises(SparkplugEncodeError, match="DATA metric"):
        _data([-1], [1.0], seq=0)


def test_state_round_trip_and_bad_state() -> None:
    assert decode_state(encode_state(True, 123)) == HostState(True, 123)
    assert json.loads(encode_state(False, 5)) == {"online": False, "timestamp": 5}
    for bad in (b"", b"[]", b'{"online": 1, "timestamp": 5}', b'{"online": true}', b"\xff"):
        with pytest.raises(SparkplugDecodeError):
            decode_state(bad)


# -- host session: the protocol rules -------------------------------------------------


def _session(device: str | None = None) -> NodeSession:
    points = [PointSpec(10, "a", scale=2.0), PointSpec(11, "b", low=0, high=1)]
    return NodeSession(G, N, device, points)


def _topic(kind: MessageType, device: str | None = None) -> str:
    return edge_topic(G, kind, N, device)


DEFS = [MetricDef("a", 1), MetricDef("b", 2)]


def test_session_reads_birth_and_data_with_scale_and_range() -> None:
    s = _session()
    born = s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [1.0, 0.5]), NOW_NS).batch
    assert born is not None and born.tag_ids.tolist() == [10, 11]
    assert born.values.tolist() == [2.0, 0.5] and born.ts.tolist() == [1_000_000_000] * 2
    out = s.handle(_topic(MessageType.NDATA), _data([2], [5.0], seq=1), NOW_NS)
    assert out.rebirth is None and out.batch is not None
    assert out.batch.quality.tolist() == [Quality.UNCERTAIN]  # 5.0 is outside [0, 1]
    assert s.stats.births == 1 and s.stats.samples == 3


def test_session_seq_gap_asks_rebirth_and_ignores_data_until_nbirth() -> None:
    s = _session()
    s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [1.0, 0.5]), NOW_NS)
    gap = s.handle(_topic(MessageType.NDATA), _data([1], [3.0], seq=2), NOW_NS)
    assert gap.batch is None and gap.rebirth is not None and s.stats.seq_gaps == 1
    late = s.handle(_topic(MessageType.NDATA), _data([1], [3.0], seq=3), NOW_NS)
    assert late.batch is None and late.rebirth is not None and s.stats.ignored == 1
    s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [1.0, 0.5], seq=0), NOW_NS)
    again = s.handle(_topic(MessageType.NDATA), _data([1], [3.0], seq=1), NOW_NS)
    assert again.batch is not None and again.batch.values.tolist() == [6.0]


def test_session_seq_wraps_at_256() -> None:
    s = _session()
    s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [0, 0], seq=255), NOW_NS)
    out = s.handle(_topic(MessageType.NDATA), _data([1], [1.0], seq=0), NOW_NS)
    assert out.batch is not None and s.stats.seq_gaps == 0


def test_session_data_before_any_birth_asks_rebirth() -> None:
    out = _session().handle(_topic(MessageType.NDATA), _data([1], [1.0], seq=0), NOW_NS)
    assert out.batch is None and out.rebirth is not None


def test_session_stale_ndeath_is_ignored_and_current_one_makes_tags_bad() -> None:
    s = _session()
    s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [1.0, 0.5], bdseq=4), NOW_NS)
    stale = s.handle(_topic(MessageType.NDEATH), encode_node_death(ts_ms=1, bdseq=3), NOW_NS)
    assert stale.batch is None and s.stats.stale_deaths == 1 and s.born
    dead = s.handle(_topic(MessageType.NDEATH), encode_node_death(ts_ms=1, bdseq=4), NOW_NS).batch
    assert dead is not None and (dead.quality == Quality.BAD).all()
    assert np.isnan(dead.values).all() and dead.ts.tolist() == [NOW_NS, NOW_NS]
    assert not s.born and s.stats.deaths == 1


def test_session_device_birth_data_and_death() -> None:
    s = _session("press")
    assert s.handle(_topic(MessageType.NBIRTH), _birth([], []), NOW_NS).batch is None
    born = s.handle(_topic(MessageType.DBIRTH, "press"), _birth(DEFS, [1, 0.5], seq=1), NOW_NS)
    assert born.batch is not None and born.batch.values.tolist() == [2.0, 0.5]
    other = s.handle(_topic(MessageType.DDATA, "oven"), _data([1], [1.0], seq=2), NOW_NS)
    assert other.rebirth is not None  # a device that never had its DBIRTH
    s.handle(_topic(MessageType.NBIRTH), _birth([], []), NOW_NS)
    s.handle(_topic(MessageType.DBIRTH, "press"), _birth(DEFS, [1, 0.5], seq=1), NOW_NS)
    data = s.handle(_topic(MessageType.DDATA, "press"), _data([1], [4.0], seq=2), NOW_NS)
    assert data.batch is not None and data.batch.values.tolist() == [8.0]
    death = s.handle(
        _topic(MessageType.DDEATH, "press"), encode_device_death(ts_ms=7, seq=3), NOW_NS
    )
    assert death.batch is not None and death.batch.ts.tolist() == [7_000_000] * 2
    assert (death.batch.quality == Quality.BAD).all()


def test_session_counts_garbage_and_ignores_other_nodes() -> None:
    s = _session()
    assert s.handle(_topic(MessageType.NDATA), b"\xff\xff\xff", NOW_NS).batch is None
    assert s.handle("spBv1.0/plant/NDATA", b"", NOW_NS).batch is None
    assert s.stats.decode_errors == 2
    other = edge_topic(G, MessageType.NDATA, "gw2")
    assert s.handle(other, _data([1], [1.0], seq=0), NOW_NS).rebirth is None


def test_session_refuses_two_tags_on_one_metric() -> None:
    with pytest.raises(ConfigError, match="two tags read metric"):
        NodeSession(G, N, None, [PointSpec(1, "a"), PointSpec(2, "a")])


# -- fuzz: every decoder raises only its documented error -------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_payload_decode(data: bytes) -> None:
    try:
        payload = decode_payload(data)
    except SparkplugDecodeError:
        return
    index = birth_index(payload, {"a": 0})
    read_metrics(payload, index, default_ts_ms=0)
    bdseq_of(payload)
    asks_rebirth(payload)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80)
    | st.lists(
        st.sampled_from(["spBv1.0", "STATE", "NDATA", "DDATA", "g", "n", ""]), max_size=6
    ).map("/".join)
)
def test_fuzz_topic_parse(topic: str) -> None:
    try:
        parsed = parse_topic(topic)
    except SparkplugDecodeError:
        return
    assert str(parsed) == topic


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_fuzz_state_decode(data: bytes) -> None:
    try:
        state = decode_state(data)
    except SparkplugDecodeError:
        return
    assert isinstance(state.online, bool) and state.timestamp_ms >= 0


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(MessageType)),
    st.sampled_from([None, "press"]),
    st.binary(max_size=300),
)
def test_fuzz_session_never_raises_on_any_payload(
    kind: MessageType, device: str | None, data: bytes
) -> None:
    s = _session()
    s.handle(_topic(MessageType.NBIRTH), _birth(DEFS, [1.0, 0.5]), NOW_NS)
    if kind.is_device != (device is not None):
        device = "press" if kind.is_device else None
    out = s.handle(_topic(kind, device), data, NOW_NS)
    if out.batch is not None:
        assert len(out.batch.tag_ids) == len(out.batch.values)
        assert set(out.batch.tag_ids.tolist()) <= {10, 11}
