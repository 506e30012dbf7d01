"""The ``factoryos`` command: site validation, simulated history, and the demo as a user runs it."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from factoryos.cli import DEMO_APPS, app
from factoryos.sim import DEMO_SITE, load_demo_site, with_ports
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.migrate import head
from support.ports import free_ports
from support.sites import Cell, Equipment, site_yaml

runner = CliRunner()
CNC_POWER = "demo/machining/line1/cell1/cnc-01/power_kw"


def _demo_site_on_free_ports(tmp_path: Path) -> Path:
    site = load_demo_site()
    ports = dict(zip([d.name for d in site.devices], free_ports(len(site.devices)), strict=True))
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(with_ports(site, ports).model_dump(mode="json")))
    return path


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["demo"],
        ["serve"],
        ["simulate"],
        ["site", "validate"],
        ["site", "schema"],
        ["db", "upgrade"],
        ["db", "current"],
        ["export"],
        ["ingest"],
        ["query"],
        ["bench", "ingest"],
        ["bench", "e2e"],
        ["bench", "query"],
        ["connect", "browse"],
        ["edge"],
        ["pki", "init"],
        ["pki", "issue", "server"],
        ["pki", "issue", "client"],
        ["broker", "config"],
        ["audit", "verify"],
        ["audit", "list"],
        ["audit", "head"],
        ["users", "add"],
        ["users", "list"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_site_validate_accepts_the_demo_site() -> None:
    result = runner.invoke(app, ["site", "validate", str(DEMO_SITE)])
    assert result.exit_code == 0
    assert "ok" in result.output
    assert "8 devices" in result.output


def test_site_validate_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_SITE.read_text().replace("port: 15022", "port: 0", 1))
    result = runner.invoke(app, ["site", "validate", str(bad)])
    assert result.exit_code == 1
    assert re.search(
        r"bad\.yaml:\d+: devices\[1\]\.port: Input should be greater than", result.output
    )


def test_simulate_stores_history_and_ground_truth(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "--site", str(DEMO_SITE), "--hours", "0.25", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    tags = sum(1 for ref in load_demo_site().tags() if ref.tag.modbus is not None)
    with DuckDBStore(tmp_path / "timeseries.duckdb") as store:
        assert store.count() == tags * 900  # every tag once a simulated second (1 s polls)
    assert (tmp_path / "groundtruth" / "states.parquet").exists()


def _wait_for(pattern: str, path: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text()
        if re.search(pattern, text):
            return text
        assert proc.poll() is None, f"demo exited early:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} within {timeout_s} s:\n{path.read_text()}")


def _carbon_report_and_pact(url: str, key: str) -> None:
    """The demo plant's carbon report of this month (JSON and PDF) and a PACT footprint of
    one of its lots, from the history the demo stored and the lots its trace emitted."""
    headers = {"Authorization": f"Bearer {key}"}
    month = datetime.now(UTC).strftime("%Y-%m")
    issued = httpx.post(f"{url}/api/energy/carbon/reports", json={"period": month},
                        headers=headers, timeout=60)  # fmt: skip
    assert issued.status_code == 201, issued.text
    version = issued.json()["version"]
    pdf = httpx.get(f"{url}/api/energy/carbon/reports/{month}/{version}/pdf", headers=headers,
                    timeout=60)  # fmt: skip
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    now = datetime.now(UTC)
    span = {
        "line": "housings",
        "start": (now - timedelta(hours=7)).isoformat(),
        "end": now.isoformat(),
    }
    lots = httpx.get(f"{url}/api/energy/carbon/lots", params=span, headers=headers, timeout=60)
    assert lots.status_code == 200, lots.text
    measured = [lot for lot in lots.json() if lot["coverage"] >= 0.99]
    assert len(measured) >= 2  # 6 h of 90-s parts in lots of 20
    lot = measured[0]
    assert lot["process_kg_co2e"] == pytest.approx(lot["kwh"] * 0.5306)  # the grid factor
    assert {m["name"] for m in lot["materials"]} == {
        "aluminium bar EN AW-6082",
        "threaded inserts M8",
    }
    pact = httpx.get(f"{url}/api/energy/carbon/pact", params={**span, "lot": lot["lot"]},
                     headers=headers, timeout=60)  # fmt: skip
    assert pact.status_code == 200, pact.text
    footprint = pact.json()
    assert footprint["specVersion"] == "2.2.0" and footprint["productIds"] == [
        "urn:gtin:04012345123456"
    ]
    per_kg = lot["kg_co2e_per_unit"] / 1.1
    assert float(footprint["pcf"]["pCfExcludingBiogenic"]) == pytest.approx(per_kg)


@pytest.mark.e2e
def test_demo_serves_live_data_and_stops_cleanly(tmp_path: Path) -> None:
    site = _demo_site_on_free_ports(tmp_path)
    (port,) = free_ports(1)
    data = tmp_path / "data"
    log = tmp_path / "demo.log"
    exe = Path(sys.executable).parent / "factoryos"
    cmd = [str(exe), "demo", "--site", str(site), "--port", str(port), "--data-dir", str(data)]
    cmd += ["--apps", str(DEMO_APPS), "--history-hours", "6"]
    env = {**os.environ, "COLUMNS": "200"}
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        text = _wait_for(r"admin key\s+fos_\S+", log, proc, 60)
        key = re.search(r"admin key\s+(fos_\S+)", text).group(1)  # type: ignore[union-attr]
        assert (data / "admin.key").read_text().strip() == key
        assert "storing 6 simulated hours of history" in text
        oee = httpx.get(
            f"http://127.0.0.1:{port}/api/oee/line",
            params={"path": "demo/machining/line1"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert oee.status_code == 200, oee.text
        assert oee.json()["total"]["planned_busy_s"] > 3 * 3600 * 3  # the stored history
        energy = httpx.get(
            f"http://127.0.0.1:{port}/api/energy/place",
            params={"path": "demo"},  # the last 24 h: the stored 6 h and the live minutes
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert energy.status_code == 200, energy.text
        assert energy.json()["meters"] == ["incomer"] and energy.json()["kwh"] > 6 * 12  # base load
        _carbon_report_and_pact(f"http://127.0.0.1:{port}", key)
        time.sleep(3)  # a few polls
        query = [
            str(exe),
            "query",
            CNC_POWER,
            "--start",
            "-1m",
            "--url",
            f"http://127.0.0.1:{port}",
            "--key",
            key,
        ]
        result = subprocess.run(query, capture_output=True, text=True, timeout=30, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.count(" good ") >= 2
        csv_file = tmp_path / "export.csv"
        exported = subprocess.run(
            [str(exe), "export", CNC_POWER, "--out", str(csv_file), "--start", "-1m",
             "--url", f"http://127.0.0.1:{port}", "--key", key],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        lines = csv_file.read_text().splitlines()
        assert lines[0] == "time,tag,value,quality"
        assert len(lines) >= 3
        assert all(line.split(",")[1] == CNC_POWER for line in lines[1:])
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
    assert "stopped; data kept" in log.read_text()


async def test_connect_browse_writes_a_tag_map_the_site_file_accepts(tmp_path: Path) -> None:
    import asyncio

    from factoryos.model import parse_site
    from factoryos.sim import VirtualFactory
    from factoryos.sim.opcua import OpcUaFactoryServer

    (port,) = free_ports(1)
    endpoint = f"opc.tcp://127.0.0.1:{port}/"
    out = tmp_path / "browsed.yaml"
    async with OpcUaFactoryServer(VirtualFactory(load_demo_site()), endpoint):
        exe = Path(sys.executable).parent / "factoryos"
        cmd = [str(exe), "connect", "browse", endpoint, "--out", str(out), "--name", "sim-ua"]
        proc = await asyncio.create_subprocess_exec(*cmd, stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    fragment = yaml.safe_load(out.read_text())
    assert fragment["devices"][0]["endpoint"] == endpoint
    site = {
        "site": {"name": "x", "areas": [{"name": "a", "lines": [{"name": "l", "cells": [
            {"name": "c", "equipment": fragment["equipment"]}]}]}]},
        "devices": fragment["devices"],
    }  # fmt: skip
    tags = list(parse_site(yaml.safe_dump(site)).tags())
    served = [r for r in load_demo_site().tags() if r.equipment.simulate and not r.tag.computed]
    simulated = len(served)  # tags without an address (anomaly scores) are not the machine's
    assert len(tags) == simulated
    assert all(ref.tag.opcua is not None for ref in tags)


def test_edge_with_a_bad_config_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.yaml"
    bad.write_text("gateway: g1\noutbox: {path: /tmp/x, max_bytes: -5}\n")
    exe = Path(sys.executable).parent / "factoryos"
    result = subprocess.run(
        [str(exe), "edge", "--config", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "gateway.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_edge_logs_what_it_does_and_stops_on_sigterm_while_nats_is_down(
    tmp_path: Path,
) -> None:
    """An MQTT-only site (the MQTT bridge) with neither its broker nor NATS reachable: the
    gateway says what it runs and what is down, keeps polling, and a SIGTERM stops it."""
    mqtt_port, nats_port = free_ports(2)
    (tmp_path / "site.yaml").write_text(
        site_yaml(
            cells=[
                Cell(
                    "a", "l", "c", (Equipment("m", ("{name: t, mqtt: {topic: x/t}}",), device="b"),)
                )
            ],
            devices=[f"{{name: b, protocol: mqtt, port: {mqtt_port}}}"],
        )
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "gateway: g1\nsite_file: site.yaml\noutbox: {path: outbox.sqlite}\n"
        f"uplink: {{kind: nats, url: 'nats://127.0.0.1:{nats_port}', timeout_s: 1}}\n"
    )
    exe = Path(sys.executable).parent / "factoryos"
    log = tmp_path / "edge.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "edge", "--config", str(config)], stderr=out)
    try:
        deadline = time.monotonic() + 30
        while "uplink down" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "INFO factoryos.edge.gateway gateway g1: 1 devices, uplink nats://" in text
    assert "WARNING factoryos.connect.mqtt device b: broker" in text  # lost: tags BAD
    assert "Traceback" not in text


def test_db_upgrade_migrates_the_catalog_and_is_repeatable(tmp_path: Path) -> None:
    newest = "0014_carbon_reports"  # the last migration in store/migrations/versions
    assert head() == newest
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert f"catalog at revision {newest}" in result.output
    current = runner.invoke(app, ["db", "current", "--data-dir", str(tmp_path)])
    assert f"current {newest}, newest {newest}" in current.output


def test_serve_refuses_to_start_without_a_strong_secret_key(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml("acme"))
    base = ["serve", "--site", str(site), "--data-dir", str(tmp_path), "--port", "1"]
    for env, why in (
        ({}, "no secret key"),
        ({"FACTORYOS_SECRET_KEY": "changeme"}, "a default or under 32 bytes"),
        ({"FACTORYOS_SECRET_KEY": "x" * 20}, "a default or under 32 bytes"),
        ({"FACTORYOS_SECRET_KEY_FILE": str(tmp_path / "missing")}, "secret key file"),
    ):
        result = runner.invoke(app, base, env={"FACTORYOS_SECRET_KEY": None, **env})
        assert result.exit_code == 2, (env, result.output)
        assert why in " ".join(result.output.split()), (env, result.output)
    assert not (tmp_path / "secret.key").exists()  # a server never makes its own


def test_users_add_makes_an_operator_and_a_tenant_admin(tmp_path: Path) -> None:
    env = {"FACTORYOS_NEW_PASSWORD": "a long enough password"}
    ops = ["users", "add", "olga", "--platform-operator", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, ops, env=env)
    assert result.exit_code == 0 and "platform operator" in result.output, result.output
    admin = ["users", "add", "alice", "--tenant", "acme", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, admin, env=env)
    assert result.exit_code == 0 and "admin of acme" in result.output, result.output
    again = runner.invoke(app, admin, env=env)
    assert again.exit_code == 2 and "taken" in again.output
    weak = runner.invoke(
        app, [*admin[:2], "bob", *admin[3:]], env={"FACTORYOS_NEW_PASSWORD": "123"}
    )
    assert weak.exit_code == 2 and "password" in weak.output
    listed = runner.invoke(app, ["users", "list", "acme", "--data-dir", str(tmp_path)])
    assert "alice" in listed.output and "admin" in listed.output
    both = runner.invoke(app, [*admin, "--platform-operator"], env=env)
    assert both.exit_code == 2
