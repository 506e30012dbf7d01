"""The gateway config file."""

from pathlib import Path

import pytest

from factoryos.edge import GatewayConfigError, Policy, load_gateway_config

GOOD = """\
gateway: line1-gw
site_file: site.yaml
outbox:
  path: state/outbox.sqlite
  max_mb: 1.5
uplink:
  kind: nats
  url: nats://platform:4222
"""


def test_a_valid_config_resolves_paths_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "gw.yaml").write_text(GOOD)
    config = load_gateway_config(tmp_path / "gw.yaml")
    assert config.site_file == tmp_path.resolve() / "site.yaml"
    assert config.outbox.path == tmp_path.resolve() / "state" / "outbox.sqlite"
    assert config.outbox.max_bytes == int(1.5 * 2**20)
    assert config.outbox.policy is Policy.DROP_OLDEST
    assert (config.uplink.url, config.uplink.stream) == ("nats://platform:4222", "FACTORYOS_INGEST")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("kind: nats", "kind: pigeon"), r"gw\.yaml:6: uplink: .*pigeon"),
        (
            GOOD.replace("max_mb: 1.5", "max_mb: -1"),
            r"gw\.yaml:5: outbox\.max_mb: .*greater than 0",
        ),
        (GOOD + "colour: blue\n", r"gw\.yaml:9: colour: unknown field"),
        (GOOD.replace("line1-gw", "Line 1"), r"gw\.yaml:1: gateway: String should match"),
        ("- just a list\n", "expected a mapping"),
        ("gateway: [\n", "not YAML"),
    ],
)
def test_bad_configs_name_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "gw.yaml").write_text(text)
    with pytest.raises(GatewayConfigError, match=message):
        load_gateway_config(tmp_path / "gw.yaml")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(GatewayConfigError, match=r"nope\.yaml: cannot read"):
        load_gateway_config(tmp_path / "nope.yaml")
