"""The configuration example of docs/oee.md is valid against the demo site."""

import re
from pathlib import Path

from factoryos.apps.oee.config import load_section
from factoryos.model.appsfile import parse_apps_file
from factoryos.sim import load_demo_site

DOC = Path(__file__).resolve().parents[3] / "docs" / "oee.md"


def test_the_documented_configuration_loads() -> None:
    blocks = re.findall(r"```yaml\n(oee:.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/oee.md lost its configuration example"
    section = load_section(parse_apps_file(blocks[0], "docs/oee.md"), load_demo_site())
    assert section is not None
    assert len(section.equipment) == 3
