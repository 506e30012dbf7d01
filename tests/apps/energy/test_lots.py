"""Lots from production EPCIS events and their footprints, hand-computed.

Lot H1-A of 20 housings starts at 08:00 (27 kg of aluminium bar, 80 inserts) and is
finished at 08:30 with 18 units, then again at 08:40 with all 20. Its line measured 10 kWh
in 08:00-08:40; at 0.5306 kg CO2e per kWh that is 5.306 kg. Materials: 27 kg × 8.6 =
232.2 kg and 80 pieces × 0.02 = 1.6 kg. Total 239.106 kg for 20 units: 11.9553 kg each.
"""

import pytest

from factoryos.apps.energy.errors import AllocationError
from factoryos.apps.energy.lots import MaterialFactor, lot_footprint, lots

LOT_A = "urn:epc:class:lgtin:4012345.012345.H1-A"
LOT_B = "urn:epc:class:lgtin:4012345.012345.H1-B"
BAR = "urn:epc:class:lgtin:4000001.065432.AL6082-2501"
INSERTS = "urn:epc:class:lgtin:4000001.065499.INS-7781"
MATERIAL_OF = {BAR: "aluminium bar", INSERTS: "inserts"}
FACTORS = {
    "aluminium bar": MaterialFactor(8.6, "kg", "supplier EPD"),
    "inserts": MaterialFactor(0.02, "piece", "supplier"),
}


def _start(lot: str, at: str) -> dict[str, object]:
    return {
        "type": "TransformationEvent",
        "eventTime": at,
        "bizStep": "creating_class_instance",
        "inputQuantityList": [
            {"epcClass": BAR, "quantity": 27.0, "uom": "KGM"},
            {"epcClass": INSERTS, "quantity": 80},
        ],
        "outputQuantityList": [{"epcClass": lot, "quantity": 20}],
    }


def _finish(lot: str, at: str, units: int) -> dict[str, object]:
    return {
        "type": "TransformationEvent",
        "eventTime": at,
        "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
        "inputQuantityList": [{"epcClass": lot, "quantity": units}],
        "outputEPCList": [f"urn:epc:id:sgtin:4012345.012345.{i}" for i in range(units)],
    }


EVENTS = [
    _start(LOT_A, "2025-01-06T08:00:00.000Z"),
    _finish(LOT_A, "2025-01-06T08:30:00.000Z", 18),
    _finish(LOT_A, "2025-01-06T08:40:00.000Z", 20),
    _start(LOT_B, "2025-01-06T08:40:00.000Z"),  # still open: no footprint yet
]


def test_lots_are_read_from_their_start_and_fullest_finish() -> None:
    (lot,) = lots(EVENTS)
    assert lot.lot == LOT_A and lot.good_units == 20
    assert (lot.end_ns - lot.start_ns) / 60e9 == pytest.approx(40.0)
    assert [(c.lot, c.quantity, c.uom) for c in lot.consumed] == [
        (BAR, 27.0, "KGM"), (INSERTS, 80.0, None),
    ]  # fmt: skip


def test_a_lot_footprint_by_hand() -> None:
    (lot,) = lots(EVENTS)
    fp = lot_footprint(lot, "housing", 10.0, 0.5306, MATERIAL_OF, FACTORS)
    assert fp.process_kg == pytest.approx(5.306)
    assert fp.materials_kg == pytest.approx(233.8)
    assert fp.total_kg == pytest.approx(239.106)
    assert fp.per_unit_kg == pytest.approx(11.9553)
    assert fp.primary_share == pytest.approx(100 * 5.306 / 239.106)


def test_materials_without_a_factor_or_unknown_are_refused() -> None:
    (lot,) = lots(EVENTS)
    with pytest.raises(AllocationError, match="'inserts' has no upstream factor"):
        lot_footprint(
            lot, "housing", 10.0, 0.5306, MATERIAL_OF, {"aluminium bar": FACTORS["aluminium bar"]}
        )
    with pytest.raises(AllocationError, match=f"consumed {INSERTS}, which no material uses"):
        lot_footprint(lot, "housing", 10.0, 0.5306, {BAR: "aluminium bar"}, FACTORS)


def test_web_uri_steps_missing_quantities_and_overlapping_lots() -> None:
    web = [
        {**e, "bizStep": f"https://ref.gs1.org/cbv/BizStep-{e['bizStep'].rsplit(':', 1)[-1]}"}
        for e in EVENTS
    ]
    assert [x.lot for x in lots(web)] == [LOT_A]

    no_quantity = _start(LOT_A, "2025-01-06T08:00:00.000Z")
    no_quantity["inputQuantityList"] = [{"epcClass": BAR, "uom": "KGM"}]
    no_quantity["eventID"] = "urn:uuid:0000"
    with pytest.raises(AllocationError, match=f"event urn:uuid:0000: material {BAR} has no"):
        lots([no_quantity, *EVENTS[1:]])

    # B starts at 08:35, before A's second finish at 08:40: A's energy window ends at 08:35
    overlapping = [*EVENTS[:3], _start(LOT_B, "2025-01-06T08:35:00.000Z"),
                   _finish(LOT_B, "2025-01-06T09:00:00.000Z", 20)]  # fmt: skip
    a, b = lots(overlapping)
    assert a.end_ns == b.start_ns and (a.end_ns - a.start_ns) / 60e9 == pytest.approx(35.0)
