"""The ``alarms:`` apps-file section: tags by path resolved to ids; errors name file, line, rule."""

from pathlib import Path

import pytest

from factoryos.apps.alarms import DeviationRule, LimitRule, Priority
from factoryos.apps.alarms.config import alarm_config
from factoryos.model.appsfile import load_apps_file, parse_apps_file
from factoryos.model.errors import AppsFileError
from factoryos.model.site import load_site
from factoryos.store.catalog import Catalog

IDS = {"p/a/l/c/cnc-01/temp_c": 11, "p/a/l/c/cnc-01/temp_sp": 12}
DEMO = Path(__file__).parents[3] / "src" / "factoryos" / "sim" / "sites"

GOOD = """\
alarms:
  max_shelve_s: 3600
  history: {keep_days: 30, max_rows: 5000}
  rules:
    - kind: limit
      name: Spindle hot
      tag: p/a/l/c/cnc-01/temp_c
      level: H
      setpoint: 75
      deadband: 2
      priority: high
    - {kind: deviation, name: Off setpoint, tag: p/a/l/c/cnc-01/temp_c,
       reference_tag: p/a/l/c/cnc-01/temp_sp, limit: 5, notify: false, equipment: CNC 1}
"""


def test_paths_resolve_to_ids_and_the_rest_is_kept() -> None:
    config = alarm_config(parse_apps_file(GOOD, "plant.yaml"), IDS)

    assert config is not None
    hot, off = config.rules
    assert isinstance(hot, LimitRule) and isinstance(off, DeviationRule)
    assert (hot.tag_id, hot.setpoint, hot.priority) == (11, 75.0, Priority.HIGH)
    assert (off.tag_id, off.reference_tag_id) == (11, 12)
    assert config.info["Spindle hot"].equipment == "p/a/l/c/cnc-01"  # from the tag path
    assert config.info["Spindle hot"].notify is True
    assert (config.info["Off setpoint"].equipment, config.info["Off setpoint"].notify) == (
        "CNC 1",
        False,
    )
    assert (config.max_shelve_s, config.history.keep_days, config.history.max_rows) == (
        3600,
        30,
        5000,
    )


def test_no_section_is_no_alarms() -> None:
    assert alarm_config(parse_apps_file("", "plant.yaml"), IDS) is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (GOOD.replace("tag: p/a/l/c/cnc-01/temp_c\n", "tag: p/nope\n"), "plant.yaml:7: "),
        (GOOD.replace("temp_sp", "temp_xx"), "plant.yaml:13: "),
        (GOOD.replace("deadband: 2", "deadband: -2"), "plant.yaml:10: "),
        (GOOD.replace("level: H", "level: X"), "plant.yaml:8: "),
        (GOOD.replace("      tag: p/a/l/c/cnc-01/temp_c\n", ""), "plant.yaml:5: "),
        (GOOD.replace("Off setpoint", "Spindle hot"), "plant.yaml:"),
        (GOOD.replace("notify: false", "notify: maybe"), "plant.yaml:13: "),
    ],
)
def test_problems_name_the_file_line_and_rule(text: str, where: str) -> None:
    with pytest.raises(AppsFileError) as caught:
        alarm_config(parse_apps_file(text, "plant.yaml"), IDS)
    message = str(caught.value)
    assert where in message
    assert "alarms.rules[" in message
    assert "Spindle hot" in message or "Off setpoint" in message


def test_ids_in_the_file_are_refused() -> None:
    text = "alarms:\n  rules:\n    - {kind: state, name: s, tag_id: 11, value: 9}\n"
    with pytest.raises(AppsFileError, match="by path"):
        alarm_config(parse_apps_file(text, "plant.yaml"), IDS)


def test_the_demo_apps_file_fits_the_demo_site() -> None:
    catalog = Catalog("sqlite://")
    catalog.create_all()
    try:
        ids = catalog.register_site(load_site(DEMO / "demo.yaml"))
        config = alarm_config(load_apps_file(DEMO / "demo-apps.yaml"), ids)
    finally:
        catalog.close()

    assert config is not None
    kinds = {rule.kind for rule in config.rules}
    assert {"limit", "state", "stale"} <= kinds
