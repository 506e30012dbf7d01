"""What the simulated devices hold for engineering values of tags, on top of connect.codec.

Raw value = (engineering - offset) / scale, saturated as a PLC does (:func:`codec.saturate`);
a bit is 0 or 1 from the engineering value itself, whatever the tag's scale and offset. The
Modbus server encodes that raw value with :func:`codec.encode`, so the simulator and the
driver share one encoder. Columnar: one numpy pass per data type over many tags at once.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats, saturate, to_engineering, to_raw
from factoryos.model.tags import DataType, Tag


class Quantizer:
    """Quantisation of a fixed list of tags, applied to a column of their values at once."""

    def __init__(self, tags: Sequence[Tag]) -> None:
        is_bit = np.array([t.type == DataType.BOOL for t in tags], dtype=np.bool_)
        # A bit ignores the tag's scale and offset.
        self._scale = np.where(is_bit, 1.0, [t.scale for t in tags])
        self._offset = np.where(is_bit, 0.0, [t.offset for t in tags])
        types = [t.type for t in tags]
        self._groups = [(d, np.flatnonzero([t == d for t in types])) for d in dict.fromkeys(types)]

    def raw(self, values: npt.ArrayLike) -> Floats:
        """The raw values the devices hold for engineering ``values`` (one per tag)."""
        raw = to_raw(np.asarray(values, dtype=np.float64), self._scale, self._offset)
        for dtype, idx in self._groups:
            raw[idx] = saturate(raw[idx], dtype)
        return raw

    def quantize(self, values: npt.ArrayLike) -> Floats:
        """The engineering values a client decodes from the registers holding ``values``."""
        return to_engineering(self.raw(values), self._scale, self._offset)


def quantize(value: float, tag: Tag) -> float:
    """The engineering value a client decodes from the registers holding ``value``."""
    return float(Quantizer([tag]).quantize([value])[0])
