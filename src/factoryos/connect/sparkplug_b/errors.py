"""Errors of the Sparkplug B codec.

``SparkplugDecodeError`` is the only exception a decoder (topic, payload, STATE) raises for
bad input, whatever the bytes: callers catch it, count the message and go on.
"""

from factoryos.connect.errors import CodecError, ProtocolError


class SparkplugDecodeError(ProtocolError):
    """A topic, payload or STATE message that is not valid Sparkplug B; names what and why."""


class SparkplugEncodeError(CodecError):
    """Values that cannot be put into a Sparkplug B payload (bad alias, seq or bdSeq)."""
