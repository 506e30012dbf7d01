"""Scheduling problem documents for the API and page tests, as a JSON client sends them."""

import json
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).parents[2] / "docs/examples/plan.yaml"


def _jsonable(value: Any) -> Any:
    """YAML's dates and datetimes as ISO 8601 text, as a JSON client sends them."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def example() -> dict[str, Any]:
    data: dict[str, Any] = _jsonable(yaml.safe_load(EXAMPLE.read_text()))
    json.dumps(data)  # JSON-able
    return data


def hard(orders: int = 20, machines: int = 5, seed: int = 1) -> dict[str, Any]:
    """A flexible job shop CP-SAT keeps improving for seconds (no calendars, tardiness)."""
    rng = random.Random(seed)
    names = [f"m{i}" for i in range(machines)]
    return {
        "start": "2026-01-01T00:00:00Z",
        "machines": [{"name": n} for n in names],
        "orders": [
            {
                "id": f"J{i}",
                "product": "p",
                "due": f"2026-01-0{1 + rng.randint(0, 2)}T12:00:00Z",
                "routing": [
                    {"machines": {m: {"run": rng.randint(5, 60)} for m in rng.sample(names, 2)}}
                    for _ in range(machines)
                ],
            }
            for i in range(orders)
        ],
        "objective": {"terms": {"tardiness": 1, "makespan": 1}},
    }
