"""The job's memory: the last period delivered, in a small JSON file written atomically.

.. code-block:: json

    {"report": "daily-oee", "last_period": {"start": "2024-03-30T00:00:00+01:00",
                                            "end": "2024-03-31T00:00:00+01:00"}}
"""

import json
import os
from datetime import datetime
from pathlib import Path

from factoryos.apps.reports.errors import StateFileError
from factoryos.apps.reports.schedule import Period


def load_last_end(path: Path) -> datetime | None:
    """The end of the last period delivered; None when there is no state file yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        end = datetime.fromisoformat(data["last_period"]["end"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateFileError(
            f"{path}: unreadable report state ({exc}); fix or delete the file (the report "
            "then restarts with the next scheduled run)"
        ) from exc
    if end.utcoffset() is None:
        raise StateFileError(f"{path}: last_period.end has no UTC offset: {end.isoformat()}")
    return end


def save_period(path: Path, report: str, period: Period) -> None:
    """Record ``period`` as delivered; a crash mid-write leaves the previous file intact."""
    data = {
        "report": report,
        "last_period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StateFileError(f"{path}: cannot write report state: {exc}") from exc
