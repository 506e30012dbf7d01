"""The demo site file, and how the factory checks a site it is asked to simulate."""

import pytest

from factoryos.model import DataType, ModbusTable, WordOrder, load_site
from factoryos.model.site import SiteFile, parse_site
from factoryos.sim import DEMO_SITE, SimConfigError, VirtualFactory, with_ports
from support.sites import Cell, Equipment, site_yaml


def test_demo_site_loads_with_the_documented_layout(demo_site: SiteFile) -> None:
    site = load_site(DEMO_SITE)
    assert site == demo_site
    assert (site.site.name, site.site.enterprise, site.site.tenant) == ("demo", "acme", "default")
    paths = [ref.path for ref in site.equipment()]
    assert paths == [
        "demo/machining/line1/cell1/cnc-01",
        "demo/machining/line1/cell1/cnc-02",
        "demo/machining/line1/cell1/cnc-03",
        "demo/moulding/imm/cell1/imm-01",
        "demo/packaging/pack1/cell1/packer-01",
        "demo/utilities/air/station/comp-01",
        "demo/utilities/air/station/comp-02",
        "demo/utilities/power/main/meter-01",
    ]
    models = [ref.equipment.simulate.model for ref in site.equipment() if ref.equipment.simulate]
    assert sorted(set(models)) == ["cnc", "compressor", "energy_meter", "injection", "packaging"]


def test_one_device_per_machine_on_consecutive_local_ports(demo_site: SiteFile) -> None:
    devices = demo_site.devices
    assert [d.port for d in devices] == list(range(15021, 15021 + len(devices)))
    assert {d.host for d in devices} == {"127.0.0.1"}
    assert {d.unit_id for d in devices} == {1}
    assert {d.poll_interval_s for d in devices} == {1.0}
    for ref in demo_site.equipment():
        assert ref.equipment.device == f"{ref.equipment.name}-plc"


def test_register_map_uses_every_table_type_and_word_order(demo_site: SiteFile) -> None:
    tags = [ref.tag for ref in demo_site.tags() if not ref.tag.computed]
    assert all(t.modbus is not None for t in tags)
    tables = {t.modbus.table for t in tags if t.modbus}
    assert tables == set(ModbusTable)
    assert {t.type for t in tags} >= {
        DataType.UINT16, DataType.UINT32, DataType.FLOAT32, DataType.INT16, DataType.BOOL
    }  # fmt: skip
    assert any(t.type == DataType.INT16 and t.scale == pytest.approx(0.1) for t in tags)
    assert any(t.modbus and t.modbus.word_order == WordOrder.LITTLE for t in tags)
    assert any(d.word_order == WordOrder.LITTLE for d in demo_site.devices)
    analogs = [t for t in tags if t.type in (DataType.FLOAT32, DataType.INT16)]
    assert all(t.range for t in analogs)
    assert all(t.unit for t in analogs if t.name != "power_factor")  # a ratio has no unit


def test_factory_simulates_every_demo_tag(demo_site: SiteFile) -> None:
    factory = VirtualFactory(demo_site)
    machine = [ref for ref in demo_site.tags() if not ref.tag.computed]  # not anomaly scores
    assert [ref.path for ref in factory.tag_refs()] == [ref.path for ref in machine]
    for ref in machine:
        value = factory.value(ref.path)
        if ref.tag.range:
            low, high = ref.tag.range
            assert low <= value <= high, ref.path


def test_with_ports_moves_devices_and_keeps_the_rest(demo_site: SiteFile) -> None:
    moved = with_ports(demo_site, {"cnc-01-plc": 40001}, host="localhost")
    assert moved.device("cnc-01-plc").port == 40001
    assert moved.device("cnc-02-plc").port == 15022
    assert {d.host for d in moved.devices} == {"localhost"}
    assert demo_site.device("cnc-01-plc").port == 15021
    with pytest.raises(SimConfigError, match="no device named 'nope'"):
        with_ports(demo_site, {"nope": 1})


def small_site(params: str, tag: str) -> SiteFile:
    """One cnc ``m1`` with ``simulate`` params and one tag."""
    m1 = Equipment("m1", (f"{{name: {tag}}}",), simulate=f"{{model: cnc, params: {{{params}}}}}")
    return parse_site(site_yaml(None, name="s", cells=[Cell("a", "l", "c", (m1,))]))


def test_unknown_param_is_named() -> None:
    site = small_site("cycle_s: 60, cycle_time: 3", "power_kw")
    with pytest.raises(SimConfigError, match=r"s/a/l/c/m1: unknown simulate param 'cycle_time'"):
        VirtualFactory(site)


def test_tag_without_a_signal_is_named() -> None:
    site = small_site("", "torque_nm")
    with pytest.raises(SimConfigError, match=r"tag s/a/l/c/m1/torque_nm: signal 'torque_nm'"):
        VirtualFactory(site)


@pytest.mark.parametrize(("kwargs", "message"), [({"seed": -1}, "seed"), ({"step_s": 0}, "step_s")])
def test_bad_run_settings_are_refused(
    demo_site: SiteFile, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(SimConfigError, match=message):
        VirtualFactory(demo_site, **kwargs)  # type: ignore[arg-type]
