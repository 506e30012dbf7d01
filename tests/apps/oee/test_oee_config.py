"""The oee: section: checked against the site, every problem with its line."""

import pytest

from factoryos.apps.oee.config import load_section
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.errors import AppsFileError
from factoryos.sim import load_demo_site

CNC = "demo/machining/line1/cell1/cnc-01"
IMM = "demo/moulding/imm/cell1/imm-01"
DERIVE = "{rules: {idle_power_kw: 1, running_speed: 1}, speed: x}"
GOOD = f"""\
oee:
  timezone: Europe/Berlin
  calendars:
    day: {{shifts: [{{name: day, start: "06:00", end: "22:00"}}]}}
  equipment:
    {CNC}:
      calendar: day
      state_tag: state
      counters: {{produced: cycle_count, scrap: scrap_count}}
      ideal_cycle_s: 90
  lines:
    demo/machining/line1: {{bottleneck: {CNC}}}
"""


def test_a_good_section_loads() -> None:
    section = load_section(parse_apps_file(GOOD, "apps.yaml"), load_demo_site())
    assert section is not None
    assert section.zone.key == "Europe/Berlin"
    assert section.equipment[CNC].micro_stop_s == 60.0
    assert load_section(parse_apps_file("", "apps.yaml"), load_demo_site()) is None


def test_a_counter_reads_its_max_rate_from_the_section() -> None:
    text = GOOD.replace("scrap: scrap_count}", "scrap: scrap_count, modulus: 65536, max_rate: 60}")
    section = load_section(parse_apps_file(text, "apps.yaml"), load_demo_site())
    assert section is not None
    counters = section.equipment[CNC].counters
    assert counters is not None
    spec = counters.spec("cycle_count")
    assert (spec.modulus, spec.max_step, spec.max_rate) == (65536, None, 60.0)
    assert spec.limit(2 * 3_600_000_000_000) == 120.0  # two hours at 60 parts an hour


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("state_tag: state", "state_tag: stat", r"apps.yaml:8: oee.equipment.*state_tag: no tag"),
        ("calendar: day", "calendar: night", r"apps.yaml:7: .*calendar: no calendar 'night'"),
        (f"    {CNC}:", "    demo/nope:", r"apps.yaml:6: .*no equipment 'demo/nope'"),
        (f"{{bottleneck: {CNC}}}", f"{{bottleneck: {IMM}}}", "not on the line"),
        ("timezone: Europe/Berlin", "timezone: Mars/Olympus", "apps.yaml:2: oee.timezone: .*IANA"),
        ("      ideal_cycle_s: 90\n", "", "give ideal_cycle_s"),
        ("state_tag: state", f"state_tag: state\n      derive: {DERIVE}",
         "exactly one of state_tag and derive"),
        ("scrap: scrap_count", "max_step: 5, modulus: 65536", "good or a scrap counter"),
        ("scrap: scrap_count", "scrap: scrap_count, max_rate: 0", r"apps.yaml:\d+: .*max_rate"),
        ("scrap: scrap_count", "scrap: scrap_count, modulus: 65536",
         "a wrapping counter needs max_step < modulus or a max_rate"),
    ],
)  # fmt: skip
def test_problems_name_line_and_field(old: str, new: str, message: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(AppsFileError, match=message):
        load_section(parse_apps_file(text, "apps.yaml"), load_demo_site())
