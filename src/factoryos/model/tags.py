"""Tag definitions: what a signal is, where it lives on the device, how to scale it."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from factoryos.model.uns import SEGMENT_RULE, is_segment


def _segment(name: str) -> str:
    if not is_segment(name):
        raise ValueError(f"{name!r} is not a valid name: use {SEGMENT_RULE}")
    return name


Name = Annotated[str, Field(max_length=64), AfterValidator(_segment)]


class Strict(BaseModel):
    """Base of every site-file model: unknown fields are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataType(StrEnum):
    """The type of a value on the wire."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"

    @property
    def words(self) -> int:
        """How many 16-bit registers a value of this type takes."""
        return 2 if self in (DataType.INT32, DataType.UINT32, DataType.FLOAT32) else 1


class WordOrder(StrEnum):
    """Order of the 16-bit words of a 32-bit value: ``big`` = high word first (ABCD)."""

    BIG = "big"
    LITTLE = "little"


class ModbusTable(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bit(self) -> bool:
        return self in (ModbusTable.COIL, ModbusTable.DISCRETE)


class ModbusAddress(Strict):
    """Where a tag lives in a Modbus device (0-based protocol address)."""

    table: ModbusTable
    address: int = Field(ge=0, le=65535)
    word_order: WordOrder | None = Field(
        default=None, description="32-bit word order; defaults to the device's."
    )


class S7Area(StrEnum):
    DB = "DB"
    M = "M"  # merker (flag) memory
    I = "I"  # noqa: E741 — S7's own name for the process-image inputs
    Q = "Q"


class S7Address(Strict):
    """Where a tag lives in an S7 PLC: area, data block, byte offset and, for bools, bit."""

    area: S7Area = S7Area.DB
    db: int = Field(default=0, ge=0, le=65535, description="Data block number (area DB).")
    offset: int = Field(ge=0, le=65535, description="Byte offset in the area.")
    bit: int | None = Field(default=None, ge=0, le=7, description="Bit of the byte, for bool.")


class OpcUaAddress(Strict):
    """A variable node of an OPC UA server."""

    node_id: str = Field(min_length=3, description="e.g. ns=2;s=Line1.CNC01.Power")
    sampling_interval_s: float | None = Field(
        default=None, ge=0, le=3600, description="Defaults to the device's."
    )


JSON_PATH_RE = r"^\$(\.[A-Za-z0-9_-]+|\[\d+\])*$"


class MqttAddress(Strict):
    """A JSON payload on a topic: where the value (and optionally time and quality) sit.

    Without ``topic``, the device's ``topic_template`` gives it (filled in at load time).
    """

    topic: str | None = Field(default=None, min_length=1, max_length=1024, pattern=r"^[^+#]+$")
    value: str = Field(default="$.value", pattern=JSON_PATH_RE, description="JSON path.")
    timestamp: str | None = Field(
        default="$.timestamp",
        pattern=JSON_PATH_RE,
        description="JSON path of the sample time (ISO 8601 or epoch ms); receive time if absent.",
    )
    quality: str | None = Field(default=None, pattern=JSON_PATH_RE, description="JSON path.")


class SparkplugAddress(Strict):
    """A metric of a Sparkplug B edge node or device."""

    metric: str = Field(min_length=1, max_length=256)


ADDRESS_FIELDS = {
    "modbus": "modbus_tcp",
    "s7": "s7",
    "opcua": "opcua",
    "mqtt": "mqtt",
    "sparkplug": "sparkplug_b",
}


class Tag(Strict):
    """One signal of a piece of equipment. Engineering value = raw * scale + offset."""

    name: Name
    type: DataType = DataType.FLOAT32
    unit: str = Field(default="", max_length=32, description="Engineering unit, e.g. kW, degC.")
    description: str = ""
    modbus: ModbusAddress | None = None
    s7: S7Address | None = None
    opcua: OpcUaAddress | None = None
    mqtt: MqttAddress | None = None
    sparkplug: SparkplugAddress | None = None
    writable: bool = Field(
        default=False, description="Engineers may write setpoints to it (audited)."
    )
    scale: float = 1.0
    offset: float = 0.0
    range: tuple[float, float] | None = Field(
        default=None, description="Engineering range; values outside it are uncertain."
    )
    deadband: float | None = Field(
        default=None,
        ge=0,
        description="Store a value only when it moved more than this since the last stored "
        "one (or its quality changed). None stores every poll.",
    )
    signal: str | None = Field(
        default=None, description="Simulator signal behind this tag; defaults to the name."
    )
    retention: Name | None = Field(
        default=None,
        description="Retention class (site file `retention.classes`); None follows the default.",
    )
    computed: bool = Field(
        default=False,
        description="Written by the platform (an anomaly score), not read from a device nor "
        "simulated: it has no address.",
    )

    @field_validator("scale")
    @classmethod
    def _nonzero_scale(cls, scale: float) -> float:
        if scale == 0:
            raise ValueError("scale must not be 0")
        return scale

    @field_validator("range")
    @classmethod
    def _ordered_range(cls, rng: tuple[float, float] | None) -> tuple[float, float] | None:
        if rng is not None and rng[0] >= rng[1]:
            raise ValueError(f"range low {rng[0]} must be below high {rng[1]}")
        return rng

    @model_validator(mode="after")
    def _check(self) -> Self:
        blocks = [f for f in ADDRESS_FIELDS if getattr(self, f) is not None]
        if len(blocks) > 1:
            raise ValueError(f"one address per tag, found {' and '.join(blocks)}")
        if self.computed and blocks:
            raise ValueError(f"a computed tag has no address, found {blocks[0]}")
        if (
            self.writable
            and self.modbus is not None
            and self.modbus.table in (ModbusTable.INPUT, ModbusTable.DISCRETE)
        ):
            raise ValueError(f"writable, but a Modbus {self.modbus.table} is read-only")
        if self.s7 is not None and (self.s7.bit is not None) != (self.type == DataType.BOOL):
            raise ValueError("an S7 bool needs s7.bit, and only a bool may have one")
        if self.modbus is not None and self.modbus.table.is_bit and self.type != DataType.BOOL:
            raise ValueError(
                f"a {self.modbus.table} holds bits: type must be bool, not {self.type}"
            )
        return self

    @property
    def protocol(self) -> str | None:
        """The protocol its address is for (``modbus_tcp``, ``opcua`` …); None if unaddressed."""
        for field, protocol in ADDRESS_FIELDS.items():
            if getattr(self, field) is not None:
                return protocol
        return None

    @property
    def sim_signal(self) -> str:
        return self.signal or self.name
