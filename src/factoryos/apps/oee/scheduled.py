"""Scheduled OEE reports: a :class:`~factoryos.apps.reports.ReportJob` per ``oee.reports``
entry, building :func:`~.report.oee_report` for the period and sending the files through
the report's notify channels (e-mail attaches them; other channels get the summary)."""

from collections.abc import Collection, Mapping
from pathlib import Path

from factoryos.apps.notify import Attachment, Notification, Notifier
from factoryos.apps.oee.config import OeeSection
from factoryos.apps.oee.report import oee_report
from factoryos.apps.oee.service import OeeService
from factoryos.apps.reports import Period, Report, ReportConfig, ReportJob, mime_type
from factoryos.model.appsfile import AppsFile
from factoryos.model.errors import AppsFileError


def _summary(report: Report, files: Mapping[str, bytes]) -> str:
    period = f"{report.period_start:%Y-%m-%d %H:%M} – {report.period_end:%Y-%m-%d %H:%M %Z}"
    return f"{report.title}, {period}.\nAttached: {', '.join(files)}."


def report_job(
    config: ReportConfig, oee: OeeService, notifier: Notifier, state_dir: Path
) -> ReportJob:
    """The job of one configured report; its state file is ``state_dir/<name>.json``."""

    def build(period: Period) -> Report:
        title = f"OEE and downtime — {config.name}"
        return oee_report(oee, period.start, period.end, title)

    async def deliver(report: Report, files: dict[str, bytes]) -> None:
        attachments = tuple(Attachment(n, data, mime_type(n)) for n, data in files.items())
        notification = Notification(
            key=f"report/{config.name}/{report.period_start.isoformat()}",
            source="report",
            subject=f"{report.title}: {report.period_start:%Y-%m-%d}",
            body=_summary(report, files),
            labels={"report": config.name},
            attachments=attachments,
        )
        notifier.submit(notification, to=config.channels)

    return ReportJob(config, build, deliver, state_dir / f"{config.name}.json")


def check_report_channels(
    apps: AppsFile, section: OeeSection, channels: Collection[str] | None
) -> None:
    """Every report's channels exist in the ``notify:`` section (None: there is none)."""
    problems = [
        apps.problem(
            ("oee", "reports", i, "channels"),
            f"report {config.name!r}: no notify channel {name!r}"
            + ("" if channels is not None else " (the apps file has no notify: section)"),
        )
        for i, config in enumerate(section.reports)
        for name in config.channels
        if channels is None or name not in channels
    ]
    if problems:
        raise AppsFileError(apps.source, [p for err in problems for p in err.problems])
