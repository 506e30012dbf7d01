"""A scheduled OEE report: built over a simulated day, rendered, e-mailed to a real SMTP."""

import io
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from apps.notify.helpers import started, until
from factoryos.apps.notify import Notification, Notifier
from factoryos.apps.notify.errors import NotifyError
from factoryos.apps.notify.settings import load_notify
from factoryos.apps.oee.config import load_section
from factoryos.apps.oee.scheduled import report_job
from factoryos.apps.oee.service import OeeService
from factoryos.apps.reports import Period
from factoryos.model.appsfile import parse_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.store.duckdb_store import DuckDBStore
from support.smtp import smtp_server

CNC = "demo/machining/line1/cell1/cnc-01"


def apps_text(port: int) -> str:
    return f"""
notify:
  channels:
    planners:
      kind: email
      smtp: "smtp://127.0.0.1:{port}"
      sender: factoryos@plant.local
      to: [planning@plant.local]
oee:
  calendars:
    day: {{shifts: [{{name: day, start: "06:00", end: "22:00"}}]}}
  equipment:
    {CNC}:
      calendar: day
      state_tag: state
      counters: {{produced: cycle_count, good: good_count}}
      ideal_cycle_s: 90
  reports:
    - name: daily-oee
      schedule: {{every: daily, at: "06:30", timezone: UTC}}
      formats: [pdf, xlsx, csv]
      channels: [planners]
"""


async def test_the_daily_report_arrives_with_its_files(tmp_path: Path) -> None:
    site = load_demo_site()
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    store = DuckDBStore(tmp_path / "ts.duckdb")
    try:
        record_history(VirtualFactory(site, seed=4, step_s=10.0), store, ids, 8700)
        async with smtp_server() as (inbox, port):
            apps = parse_apps_file(apps_text(port), "apps.yaml")
            section = load_section(apps, site)
            settings = load_notify(apps)
            assert section is not None and settings is not None
            notifier = Notifier(settings)
            (config,) = section.reports
            job = report_job(config, OeeService(section, store, ids), notifier, tmp_path)
            day = Period(datetime(2025, 1, 6, tzinfo=UTC), datetime(2025, 1, 7, tzinfo=UTC))
            async with started(notifier):
                await job.produce(day)
                await until(lambda: len(inbox.envelopes) == 1, within_s=20)
    finally:
        store.close()
    message = message_from_bytes(inbox.envelopes[0].content, policy=policy.default)  # type: ignore[arg-type]
    assert "daily-oee" in str(message["Subject"]) and "2025-01-06" in str(message["Subject"])
    files = {a.get_filename(): a.get_content() for a in message.iter_attachments()}  # type: ignore[attr-defined]
    pdf = next(v for k, v in files.items() if k.endswith(".pdf"))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "OEE per equipment" in text and "cnc-01" in text
    xlsx = next(v for k, v in files.items() if k.endswith(".xlsx"))
    assert openpyxl.load_workbook(io.BytesIO(xlsx)).sheetnames
    csvs = [k for k in files if k.endswith(".csv")]
    assert len(csvs) >= 5  # one per table
    assert (tmp_path / "daily-oee.json").exists()  # the job remembers the period it sent


def test_a_report_to_an_unknown_channel_is_refused() -> None:
    settings = load_notify(parse_apps_file(apps_text(25), "a.yaml"))
    assert settings is not None
    with pytest.raises(NotifyError, match=r"no channel \['nobody'\]"):
        Notifier(settings).submit(
            Notification(key="k", source="report", subject="s", body="b"), to=["nobody"]
        )
