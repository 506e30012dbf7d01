"""Site-file validation: valid files load; every invalid one names file, line and field."""

from pathlib import Path

import pytest

from factoryos.model import DataType, ModbusTable, SiteFileError, load_site, parse_site

GOOD = """\
site:
  name: plant1
  enterprise: acme
  tenant: t1
  areas:
    - name: machining
      lines:
        - name: line1
          cells:
            - name: cell1
              equipment:
                - name: cnc-01
                  device: plc1
                  tags:
                    - name: power_kw
                      type: float32
                      unit: kW
                      modbus: {table: holding, address: 0}
                      range: [0, 50]
                    - name: temp
                      type: int16
                      scale: 0.1
                      modbus: {table: input, address: 10, word_order: little}
                    - name: alarm
                      type: bool
                      modbus: {table: coil, address: 3}
devices:
  - name: plc1
    host: 10.0.0.5
    port: 502
    poll_interval_s: 0.5
"""


def test_valid_site_loads_with_uns_paths() -> None:
    site = parse_site(GOOD, "plant1.yaml")
    paths = [ref.path for ref in site.tags()]
    assert paths == [
        "plant1/machining/line1/cell1/cnc-01/power_kw",
        "plant1/machining/line1/cell1/cnc-01/temp",
        "plant1/machining/line1/cell1/cnc-01/alarm",
    ]
    temp = next(r.tag for r in site.tags() if r.tag.name == "temp")
    assert temp.type is DataType.INT16
    assert temp.modbus is not None and temp.modbus.table is ModbusTable.INPUT
    assert site.device("plc1").poll_interval_s == 0.5


def test_load_site_reads_a_file(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(GOOD)
    assert load_site(f).site.tenant == "t1"


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SiteFileError) as info:
        parse_site(text, "bad.yaml")
    assert str(info.value).startswith("bad.yaml: ")
    return [(p.line, p.field, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("port: 502", "port: 70000", 30, "devices[0].port", "less than or equal to 65535"),
        ("unit: kW", "unti: kW", 17, "tags[0].unti", "unknown field"),
        ("name: temp", "name: Temp", 20, "tags[1].name", "not a valid name"),
        ("device: plc1", "device: plc9", 13, "equipment[0].device", "no device named 'plc9'"),
        (
            "table: input, address: 10",
            "table: holding, address: 1",
            23,
            "tags[1].modbus",
            "overlap",
        ),
        ("type: bool", "type: int16", 24, "tags[2]", "holds bits"),
        ("range: [0, 50]", "range: [50, 0]", 19, "tags[0].range", "must be below"),
        ("scale: 0.1", "scale: 0", 22, "tags[1].scale", "scale must not be 0"),
        ("type: float32", "type: float64", 16, "tags[0].type", "Input should be"),
    ],
)
def test_invalid_site_names_line_and_field(
    old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    found = _problems(GOOD.replace(old, new, 1))
    assert any(ln == line and f.endswith(field) and words in msg for ln, f, msg in found), found


def test_duplicate_names_are_reported() -> None:
    text = GOOD.replace("name: temp", "name: power_kw")
    found = _problems(text)
    assert any("'power_kw' appears more than once" in m for _, _, m in found), found


def test_yaml_syntax_error_names_the_line() -> None:
    found = _problems("site:\n  name: x\n  areas: [\n")
    assert found[0][1] == "(yaml)"
    assert found[0][0] is not None


def test_missing_file_is_a_site_file_error(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="cannot read"):
        load_site(tmp_path / "nope.yaml")


def test_not_a_mapping() -> None:
    assert _problems("- a\n- b\n")[0][2].startswith("expected a mapping")
