"""The reports section inside an application's apps-file section."""

import pytest
from pydantic import BaseModel

from factoryos.apps.reports import ReportConfigs
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.errors import AppsFileError


class _Section(BaseModel):
    reports: ReportConfigs = []


GOOD = """\
oee:
  reports:
    - name: daily-oee
      schedule: {every: daily, at: "06:30", timezone: Europe/Berlin}
      formats: [pdf, xlsx]
      channels: [shift-leads]
    - name: weekly-downtime
      schedule: {every: weekly, weekday: monday, at: "07:00", timezone: America/New_York}
      formats: [csv]
      channels: [plant-manager, maintenance]
"""


def test_a_valid_section_parses() -> None:
    section = parse_apps_file(GOOD).section("oee", _Section)
    assert section is not None
    first, second = section.reports
    assert first.formats == ["pdf", "xlsx"] and str(first.schedule.at) == "06:30:00"
    assert second.schedule.weekday == "monday" and second.channels == [
        "plant-manager",
        "maintenance",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('at: "06:30"', "at: 16:30", r"oee.reports\[0\].schedule.at: .*base-60"),
        (
            "Europe/Berlin",
            "Europe/Berlim",
            r"apps.yaml:4: oee.reports\[0\].schedule.timezone: unknown",
        ),
        ("[pdf, xlsx]", "[pdf, docx]", r"oee.reports\[0\].formats\[1\]"),
        ("[pdf, xlsx]", "[pdf, pdf]", r"oee.reports\[0\].formats: .*listed twice"),
        ("name: weekly-downtime", "name: daily-oee", "names must be unique"),
        ("channels: [shift-leads]", "channels: []", r"oee.reports\[0\].channels"),
    ],
)
def test_bad_sections_name_the_field_and_line(old: str, new: str, message: str) -> None:
    with pytest.raises(AppsFileError, match=message):
        parse_apps_file(GOOD.replace(old, new), "apps.yaml").section("oee", _Section)
