"""The apps-file section of scheduled reports (embedded by an application, e.g. ``oee.reports``).

.. code-block:: yaml

    reports:
      - name: daily-oee
        schedule: {every: daily, at: "06:30", timezone: Europe/Berlin}
        formats: [pdf, xlsx]
        channels: [shift-leads]
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from factoryos.apps.reports.schedule import Schedule

Format = Literal["csv", "xlsx", "pdf"]
MAX_REPORTS = 100


class ReportConfig(BaseModel):
    """One scheduled report: when it runs, what it renders, where it goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    schedule: Schedule
    formats: list[Format] = Field(min_length=1, max_length=3)
    channels: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=20
    )

    @field_validator("formats", "channels")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError(f"listed twice: {sorted({v for v in values if values.count(v) > 1})}")
        return values


def _unique_names(configs: list[ReportConfig]) -> list[ReportConfig]:
    names = [c.name for c in configs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"report names must be unique, repeated: {repeated}")
    return configs


#: The field type for the list of reports in an application's section.
ReportConfigs = Annotated[
    list[ReportConfig],
    Field(max_length=MAX_REPORTS),
    AfterValidator(_unique_names),
]
