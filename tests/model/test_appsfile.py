"""The apps file: sections validated by their application's model, errors with file:line."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from factoryos.model.appsfile import load_apps_file, parse_apps_file
from factoryos.model.errors import AppsFileError


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    high: float = Field(allow_inf_nan=False)
    names: list[str] = []


TEXT = """\
oee:
  high: 3.5
alarms:
  high: "2"
  names: [a, 7]
"""


def test_a_section_validates_with_its_model() -> None:
    apps = parse_apps_file(TEXT, "plant.yaml")
    assert apps.section("oee", Limits) == Limits(high=3.5)
    assert apps.section("notify", Limits) is None


def test_a_bad_value_names_file_line_and_field() -> None:
    apps = parse_apps_file(TEXT, "plant.yaml")
    with pytest.raises(AppsFileError) as err:
        apps.section("alarms", Limits)
    text = str(err.value)
    assert "plant.yaml:5: alarms.names[1]:" in text
    assert "plant.yaml:4: alarms.high:" in text


def test_unknown_fields_and_sections_are_refused() -> None:
    apps = parse_apps_file("oee:\n  high: 1.0\n  hgih: 2.0\nalrams: {}\n", "p.yaml")
    with pytest.raises(AppsFileError, match=r"p.yaml:3: oee.hgih: unknown field"):
        apps.section("oee", Limits)
    with pytest.raises(AppsFileError, match=r"p.yaml:4: alrams: unknown section"):
        apps.check_sections({"oee", "alarms"})


def test_problem_names_the_line_of_a_value() -> None:
    apps = parse_apps_file(TEXT, "plant.yaml")
    assert "plant.yaml:5: alarms.names[0]: no such tag" in str(
        apps.problem(("alarms", "names", 0), "no such tag")
    )


def test_not_yaml_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(AppsFileError, match=r"p.yaml:3: \(yaml\)"):
        parse_apps_file("oee:\n  - [unclosed\n", "p.yaml")
    with pytest.raises(AppsFileError, match="expected a mapping of sections"):
        parse_apps_file("- a\n- b\n", "p.yaml")
    with pytest.raises(AppsFileError, match="cannot read"):
        load_apps_file(tmp_path / "missing.yaml")
    assert parse_apps_file("", "empty.yaml").data == {}


def test_anchors_and_merge_keys_work_and_explicit_keys_win() -> None:
    text = "oee: &base {high: 1.0, names: [a]}\nalarms:\n  <<: *base\n  high: 2.0\n"
    apps = parse_apps_file(text, "p.yaml")
    assert apps.section("alarms", Limits) == Limits(high=2.0, names=["a"])
    with pytest.raises(AppsFileError, match="merge key"):
        parse_apps_file("a:\n  <<: 3\n", "p.yaml")
