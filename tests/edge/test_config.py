"""The gateway config file."""

import asyncio
from pathlib import Path

import pytest

from factoryos.edge import GatewayConfigError, Policy, load_gateway_config
from factoryos.edge.gateway import run_gateway
from support.sites import POWER, site_yaml

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


INFERENCE = """\
inference:
  - model: models/cnc-01.onnx
    score_tag: {score_tag}
"""


def _gateway_with_model(tmp_path: Path, model: bytes, score_tag: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "site.yaml").write_text(site_yaml())
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "cnc-01.onnx").write_bytes(model)
    (tmp_path / "gw.yaml").write_text(GOOD + INFERENCE.format(score_tag=score_tag))
    return tmp_path / "gw.yaml"


def test_inference_models_are_found_next_to_the_config(tmp_path: Path) -> None:
    config = load_gateway_config(_gateway_with_model(tmp_path, b"x", "a/b"))
    (model,) = config.inference
    assert model.model == tmp_path.resolve() / "models" / "cnc-01.onnx"
    assert model.score_tag == "a/b"


async def test_a_bad_model_file_stops_the_gateway_before_it_starts(tmp_path: Path) -> None:

    config = load_gateway_config(_gateway_with_model(tmp_path, b"not onnx", POWER))
    with pytest.raises(GatewayConfigError, match=r"inference: .*cnc-01\.onnx: not a FactoryOS"):
        await run_gateway(config, asyncio.Event())
    config = load_gateway_config(_gateway_with_model(tmp_path / "b", b"x", "no/such/tag"))
    with pytest.raises(GatewayConfigError, match="score tags not in the site: no/such/tag"):
        await run_gateway(config, asyncio.Event())
    assert not (tmp_path / "state").exists()  # nothing was opened
