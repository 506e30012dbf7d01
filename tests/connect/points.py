"""Modbus points of throwaway tags ``t<id>``, for planner and poller tests."""

from factoryos.connect.modbus_plan import ModbusPoint
from factoryos.model.tags import DataType, ModbusAddress, ModbusTable, Tag, WordOrder


def point(
    tag_id: int,
    table: ModbusTable,
    address: int,
    dtype: DataType = DataType.INT16,
    *,
    word_order: WordOrder | None = None,
    **tag: object,
) -> ModbusPoint:
    """Tag ``t<tag_id>`` of ``dtype`` at ``table``/``address``; ``tag`` adds fields (scale …)."""
    modbus = ModbusAddress(table=table, address=address, word_order=word_order)
    return ModbusPoint(
        tag_id, Tag.model_validate({"name": f"t{tag_id}", "type": dtype, "modbus": modbus, **tag})
    )
