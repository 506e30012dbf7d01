"""``factoryos query``: history of one tag from a running FactoryOS, as a terminal table."""

import time
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from rich.table import Table

from factoryos.errors import FactoryOSError
from factoryos.model.timeparse import format_ns, parse_time_ns

TIMEOUT_S = 10.0


class ClientQueryError(FactoryOSError):
    """The API could not be reached or refused the query; the message says why."""


def time_span(start: str, end: str) -> dict[str, str]:
    """``start``/``end`` as the API wants them (ISO with Z); relative times resolve to now."""
    now = time.time_ns()
    try:
        return {
            "start": format_ns(parse_time_ns(start, now)),
            "end": format_ns(parse_time_ns(end, now)),
        }
    except ValueError as exc:
        raise ClientQueryError(f"--start/--end: {exc}") from exc


def history_params(
    tag: str, start: str, end: str, every: str | None, aggs: list[str], limit: int
) -> tuple[str, dict[str, Any]]:
    """The API path and parameters for a query."""
    span = time_span(start, end)
    if every is None:
        return "/api/history/raw", {"tag": tag, **span, "limit": limit}
    return "/api/history/agg", {"tag": tag, **span, "every": every, "agg": aggs or ["avg"]}


def fetch(url: str, key: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET ``path`` from the API at ``url``; translate transport and HTTP errors."""
    headers = {"Authorization": f"Bearer {key}"}
    try:
        response = httpx.get(
            url.rstrip("/") + path, params=params, headers=headers, timeout=TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise ClientQueryError(
            f"cannot reach FactoryOS at {url} ({exc}): start `factoryos demo` or "
            "`factoryos serve`, or pass --url"
        ) from exc
    if response.status_code >= 400:
        raise ClientQueryError(f"{response.status_code} from {url}{path}: {_detail(response)}")
    body: dict[str, Any] = response.json()
    return body


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def history_table(body: dict[str, Any]) -> Table:
    """Raw samples (ts, value, quality) or aggregates (bucket, one column per aggregate)."""
    unit = f" [{body['unit']}]" if body.get("unit") else ""
    table = Table(title=f"{body['tag']}{unit}  {body['start']} → {body['end']}")
    if "columns" in body:
        names = list(body["columns"])
        table.add_column(f"bucket ({body['every']})")
        for name in names:
            table.add_column(name, justify="right")
        for i, bucket in enumerate(body["bucket"]):
            table.add_row(bucket, *(_fmt(body["columns"][n][i]) for n in names))
        return table
    for column, justify in (("time", "left"), ("value", "right"), ("quality", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for ts, value, quality in zip(body["ts"], body["value"], body["quality"], strict=True):
        table.add_row(ts, _fmt(value), quality)
    if body.get("truncated"):
        table.caption = f"first {body['count']} samples; raise --limit for more"
    return table


def download(url: str, key: str, params: dict[str, Any], out: Path, progress: Progress) -> int:
    """Stream ``/api/export`` into ``out`` chunk by chunk; returns the bytes written."""
    headers = {"Authorization": f"Bearer {key}"}
    task = progress.add_task(f"exporting to {out}", total=None)
    written = 0
    try:
        with httpx.stream(
            "GET", url.rstrip("/") + "/api/export", params=params, headers=headers,
            timeout=TIMEOUT_S,
        ) as response:  # fmt: skip
            if response.status_code >= 400:
                response.read()
                raise ClientQueryError(f"{response.status_code}: {_detail(response)}")
            with out.open("wb") as sink:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
                    progress.update(task, completed=written)
    except httpx.HTTPError as exc:
        raise ClientQueryError(f"cannot reach FactoryOS at {url} ({exc})") from exc
    return written
