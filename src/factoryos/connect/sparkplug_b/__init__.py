"""Sparkplug B 3.0: the Eclipse Tahu protobuf schema compiled in the project, its codec
(topics, payloads, STATE) and the host application's pure session logic.

Lives in ``connect`` (layer 1) so the host driver can use it; ``bus`` and ``edge`` import it
from here.
"""

from factoryos.connect.sparkplug_b.errors import SparkplugDecodeError, SparkplugEncodeError
from factoryos.connect.sparkplug_b.host import NodeSession, Outcome, PointSpec, SparkplugStats
from factoryos.connect.sparkplug_b.payload import (
    BDSEQ,
    QUALITY,
    REBIRTH,
    UNIT,
    DataType,
    Known,
    MetricColumns,
    MetricDef,
    Payload,
    asks_rebirth,
    bdseq_of,
    birth_index,
    decode_payload,
    encode_birth,
    encode_data,
    encode_device_death,
    encode_node_death,
    encode_rebirth_request,
    metric_value,
    read_metrics,
)
from factoryos.connect.sparkplug_b.state import HostState, decode_state, encode_state
from factoryos.connect.sparkplug_b.topics import (
    NAMESPACE,
    EdgeTopic,
    MessageType,
    StateTopic,
    edge_topic,
    is_id,
    parse_topic,
    state_topic,
)

__all__ = [
    "BDSEQ",
    "NAMESPACE",
    "QUALITY",
    "REBIRTH",
    "UNIT",
    "DataType",
    "EdgeTopic",
    "HostState",
    "Known",
    "MessageType",
    "MetricColumns",
    "MetricDef",
    "NodeSession",
    "Outcome",
    "Payload",
    "PointSpec",
    "SparkplugDecodeError",
    "SparkplugEncodeError",
    "SparkplugStats",
    "StateTopic",
    "asks_rebirth",
    "bdseq_of",
    "birth_index",
    "decode_payload",
    "decode_state",
    "edge_topic",
    "encode_birth",
    "encode_data",
    "encode_device_death",
    "encode_node_death",
    "encode_rebirth_request",
    "encode_state",
    "is_id",
    "metric_value",
    "parse_topic",
    "read_metrics",
    "state_topic",
]
