"""The platform with an apps file: the demo's alarms run live from the drivers' samples and
are served by the API; a bad apps file stops the platform before anything runs."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from factoryos.cli import DEMO_APPS
from factoryos.model.errors import AppsFileError
from factoryos.runtime.platform import Platform
from factoryos.sim import SimulatorHost, VirtualFactory, load_demo_site, with_ports
from support.ports import free_ports

REPORT_WITHOUT_NOTIFY = """\
oee:
  calendars: {c: {shifts: [{name: d, start: "06:00", end: "22:00"}]}}
  equipment:
    demo/machining/line1/cell1/cnc-01:
      calendar: c
      state_tag: state
      counters: {produced: cycle_count, scrap: scrap_count}
      ideal_cycle_s: 90
  reports:
    - name: daily
      schedule: {every: daily, at: "06:30", timezone: UTC}
      formats: [pdf]
      channels: [planners]
"""


async def test_the_demo_alarms_run_from_the_live_stream(tmp_path: Path) -> None:
    site = load_demo_site()
    names = [d.name for d in site.devices]
    site = with_ports(site, dict(zip(names, free_ports(len(names)), strict=True)))
    platform = Platform(site, tmp_path, apps_file=DEMO_APPS)
    key = platform.admin_key("test-admin")
    (port,) = free_ports(1)
    stop = asyncio.Event()
    ready = asyncio.Event()
    try:
        async with SimulatorHost(VirtualFactory(site, seed=3, start_ns=time.time_ns())) as sim:
            stepping = asyncio.create_task(sim.run_realtime(stop))
            running = asyncio.create_task(platform.run("127.0.0.1", port, stop, ready.set))
            await asyncio.wait_for(ready.wait(), 20)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=5
            ) as client:
                alarms = await _with_values(client)
                setup = await client.get("/api/oee/setup")
                since = time.time_ns() // 10**9 - 30
                start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
                site_oee = await client.get("/api/oee/site", params={"start": start})
            stop.set()
            await asyncio.wait_for(running, 30)
            await stepping
    finally:
        platform.close()

    assert len(alarms) == len(platform.alarms.rules if platform.alarms else [])
    spindle = next(a for a in alarms if a["name"] == "CNC-01 spindle temp H")
    assert spindle["tag"] == "demo/machining/line1/cell1/cnc-01/spindle_temp_c"
    assert 0 < spindle["last_value"] < 150  # a real reading, fed from the drivers
    assert setup.status_code == 200 and len(setup.json()["equipment"]) == 5
    assert site_oee.status_code == 200, site_oee.text  # OEE over the drivers' live samples
    assert site_oee.json()["name"] == "site"


async def _with_values(client: httpx.AsyncClient) -> list[dict[str, object]]:
    """The alarm list once the drivers' samples have reached the processor."""
    deadline = time.monotonic() + 15
    while True:
        answer = await client.get("/api/alarms")
        assert answer.status_code == 200, answer.text
        alarms: list[dict[str, object]] = answer.json()["alarms"]
        if all(a["last_value"] is not None for a in alarms if "temp" in str(a["name"])):
            return alarms
        assert time.monotonic() < deadline, "no samples reached the alarms"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alrams: {rules: []}\n", "unknown section"),
        (
            "alarms:\n  rules:\n    - {kind: stale, name: x, tag: demo/none, timeout_s: 5}\n",
            "demo/none",
        ),
        (REPORT_WITHOUT_NOTIFY, "no notify channel 'planners'"),
    ],
)
def test_a_bad_apps_file_stops_the_platform_at_once(
    tmp_path: Path, text: str, message: str
) -> None:
    apps = tmp_path / "apps.yaml"
    apps.write_text(text)
    with pytest.raises(AppsFileError, match=message):
        Platform(load_demo_site(), tmp_path / "data", apps_file=apps)
