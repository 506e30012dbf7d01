"""`factoryos pki …` and `factoryos broker config` as an operator runs them."""

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from factoryos.cli_security import broker_app, pki_app
from factoryos.security import passwd
from factoryos.security.credentials import load as load_secrets
from factoryos.security.pki import PkiDir, load
from support.secure_broker import CELL, DEVICES, GATEWAY
from support.sites import site_yaml

runner = CliRunner()
app = typer.Typer()
app.add_typer(pki_app, name="pki")  # as cli.py registers them
app.add_typer(broker_app, name="broker")
SECRET_LINE = re.compile(r"^  (\S+) ([A-Za-z0-9_-]{43})$", re.MULTILINE)


def _run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_pki_init_and_issue(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert _run("pki", "init", "--dir", pki)[0] == 0
    code, output = _run("pki", "init", "--dir", pki)
    assert code == 2
    assert "will not replace" in output
    assert _run("pki", "init", "--dir", pki, "--force")[0] == 0
    args = ("--dir", pki, "--name", "broker", "--dns", "localhost", "--ip", "127.0.0.1")
    assert _run("pki", "issue", "server", *args)[0] == 0
    assert _run("pki", "issue", "client", "--dir", pki, "--name", GATEWAY)[0] == 0
    assert load(PkiDir(pki).files("broker")).common_name == "broker"
    assert load(PkiDir(pki).files(GATEWAY)).common_name == GATEWAY


def test_issue_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    code, output = _run("pki", "issue", "client", "--dir", tmp_path, "--name", "x")
    assert code == 2
    assert "factoryos pki init" in output


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml("acme", cells=(CELL,), devices=DEVICES))
    return path


def test_broker_config_shows_new_passwords_once(tmp_path: Path, site_file: Path) -> None:
    out = tmp_path / "broker"
    args = ("broker", "config", "--site", site_file, "--out", out)
    code, first = _run(*args, "--gateway", GATEWAY, "--group", "plant1")
    assert code == 0, first
    shown = dict(SECRET_LINE.findall(first))
    assert shown == load_secrets(out / "secrets.json")
    assert set(shown) == {"factoryos", "sensors-a", "sensors-b", "press-node", GATEWAY}
    code, second = _run(*args, "--gateway", GATEWAY, "--group", "plant1")
    assert code == 0
    assert SECRET_LINE.findall(second) == []
    code, rotated = _run(*args, "--gateway", GATEWAY, "--group", "plant1", "--rotate", GATEWAY)
    assert [user for user, _ in SECRET_LINE.findall(rotated)] == [GATEWAY]


def test_broker_config_reads_gateway_configs(tmp_path: Path, site_file: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"gateway: {GATEWAY}\nsite_file: site.yaml\noutbox: {{path: gw.outbox}}\n"
        "uplink: {kind: sparkplug, group_id: area7, username: gw-user, edge_node_id: node7}\n"
    )
    out = tmp_path / "broker"
    code, output = _run(
        "broker", "config", "--site", site_file, "--out", out, "--gateway-config", config
    )
    assert code == 0, output
    assert "gw-user" in passwd.parse((out / "passwd").read_text())
    acl = (out / "acl").read_text()
    assert "user gw-user\ntopic write spBv1.0/area7/NBIRTH/node7\n" in acl


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--gateway", "gw"), "--group: needed with --gateway"),
        (("--rotate", "nobody"), "--rotate nobody: no broker user"),
    ],
)
def test_broker_config_refuses_bad_options(
    tmp_path: Path, site_file: Path, extra: tuple[str, ...], message: str
) -> None:
    code, output = _run("broker", "config", "--site", site_file, "--out", tmp_path / "b", *extra)
    assert code == 2
    assert message in output


def test_broker_config_names_the_line_of_a_bad_site_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site:\n  name: Bad Name\n  areas: []\n")
    code, output = _run("broker", "config", "--site", bad, "--out", tmp_path / "b")
    assert code == 2
    assert f"{bad}:2: site.name" in output.replace("\n", "")
