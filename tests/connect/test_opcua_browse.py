"""Browsing the simulator's address space and writing the tag map as a site fragment."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import yaml

from factoryos.connect.errors import ConfigError, ConnectError
from factoryos.connect.opcua_browse import BrowsedVariable, browse, browse_to_yaml, sanitise
from factoryos.model.site import parse_site
from factoryos.model.tags import DataType
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.opcua import OpcUaFactoryServer, node_id
from support.ports import free_port

CNC = "demo/machining/line1/cell1/cnc-01"

SHARED = pytest.mark.asyncio(loop_scope="module")  # tests on the module's server


@pytest.fixture(scope="module")
def factory() -> VirtualFactory:
    return VirtualFactory(load_demo_site(), seed=1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(factory: VirtualFactory) -> AsyncIterator[OpcUaFactoryServer]:
    async with OpcUaFactoryServer(factory, f"opc.tcp://127.0.0.1:{free_port()}/") as running:
        yield running


@SHARED
async def test_browse_finds_every_variable_with_type_and_unit(
    server: OpcUaFactoryServer, factory: VirtualFactory
) -> None:
    found = await browse(server.endpoint)
    by_id = {v.node_id: v for v in found}
    assert set(by_id) == {node_id(ref.path) for ref in factory.tag_refs()}
    power = by_id[node_id(f"{CNC}/power_kw")]
    assert power.path == tuple(f"{CNC}/power_kw".split("/"))
    assert (power.data_type, power.unit, power.tag_type) == ("Float", "kW", DataType.FLOAT32)
    assert power.description == "Active power of the machine"
    assert by_id[node_id(f"{CNC}/alarm_active")].tag_type == DataType.BOOL


@SHARED
async def test_root_and_depth_limit_the_walk(server: OpcUaFactoryServer) -> None:
    below = await browse(server.endpoint, root=f"ns=2;s={CNC}")
    assert below and all(v.path[:-1] == () for v in below)
    assert await browse(server.endpoint, max_depth=3) == []  # variables sit 6 levels down


@SHARED
async def test_the_yaml_fragment_makes_a_valid_site(server: OpcUaFactoryServer) -> None:
    found = await browse(server.endpoint)
    text = browse_to_yaml(found, "Sim Server #1", server.endpoint)
    fragment = yaml.safe_load(text)
    site = {
        "site": {
            "name": "imported",
            "areas": [
                {
                    "name": "area",
                    "lines": [
                        {
                            "name": "line",
                            "cells": [{"name": "cell", "equipment": fragment["equipment"]}],
                        }
                    ],
                }
            ],
        },
        "devices": fragment["devices"],
    }
    parsed = parse_site(yaml.safe_dump(site))
    tags = list(parsed.tags())
    assert len(tags) == len(found)
    assert parsed.device("sim_server_1").protocol == "opcua"
    power = next(t for t in tags if t.path == "imported/area/line/cell/cnc-01/power_kw")
    assert power.tag.opcua is not None and power.tag.opcua.node_id == node_id(f"{CNC}/power_kw")
    assert power.tag.unit == "kW"


async def test_browsing_a_dead_endpoint_is_a_connect_error() -> None:
    with pytest.raises(ConnectError, match=r"opc.tcp://127.0.0.1"):
        await browse(f"opc.tcp://127.0.0.1:{free_port()}/", timeout_s=2)
    with pytest.raises(ConfigError, match="root"):
        await browse("opc.tcp://127.0.0.1:9/", root="not a node id")


def test_names_are_sanitised_unique_and_non_numbers_left_out() -> None:
    def var(path: str, data_type: str = "Double") -> BrowsedVariable:
        return BrowsedVariable(f"ns=3;s={path}", tuple(path.split("/")), data_type)

    found = [
        var("Plant/Line 1/Temp °C"),
        var("Plant/Line 1/TEMP_C"),  # sanitises to the same name as the first
        var("Plant/Line 1/Serial", "String"),
        var("Other/Line 1/Speed", "UInt16"),  # its parent's own name is taken
    ]
    fragment = yaml.safe_load(browse_to_yaml(found, "plc", "opc.tcp://h:4840"))
    equipment = {e["name"]: [t["name"] for t in e["tags"]] for e in fragment["equipment"]}
    assert equipment == {"line_1": ["temp_c", "temp_c-2"], "other-line_1": ["speed"]}
    assert fragment["equipment"][1]["tags"][0]["type"] == "uint16"
    assert "Plant/Line 1/Serial" in browse_to_yaml(found, "plc", "opc.tcp://h:4840")
    assert sanitise("!!!", "tag") == "tag" and len(sanitise("x" * 99, "t")) == 64
