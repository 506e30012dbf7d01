"""History over REST: raw, aggregates and last values equal what was written."""

from datetime import UTC, datetime

import numpy as np
import pytest
from httpx import AsyncClient

from factoryos.api import Services
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.timeparse import format_ns
from support.sites import POWER, RPM, TEMP

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
S = 10**9
START, END = "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z"


@pytest.fixture
def written(services: Services, acme) -> SampleBatch:
    """Two minutes of 1 s power samples (one bad), plus one rpm sample."""
    n = 120
    values = np.round(np.sin(np.arange(n) / 7.0) * 10 + 20, 3)
    quality = np.full(n, Quality.GOOD, dtype=np.uint8)
    quality[5], values[5] = Quality.BAD, np.nan
    quality[6] = Quality.UNCERTAIN
    power = SampleBatch.build(np.full(n, acme.ids[POWER]), T0 + np.arange(n) * S, values, quality)
    services.store.write(power)
    services.store.write(SampleBatch.build([acme.ids[RPM]], [T0 + 30 * S], [1500.0]))
    return power


async def get(client: AsyncClient, url: str, acme, **params: object):
    return await client.get(url, params=params, headers=acme.auth())


async def test_raw_returns_exactly_what_was_written(client: AsyncClient, acme, written) -> None:
    r = await get(client, "/api/history/raw", acme, tag=POWER, start=START, end=END)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["tag"], body["unit"], body["count"]) == (POWER, "kW", 120)
    assert body["truncated"] is False
    assert body["start"] == "2024-05-01T12:00:00.000Z"
    assert body["ts"] == [format_ns(int(t)) for t in written.ts]
    expected = [None if np.isnan(v) else float(v) for v in written.values]
    assert body["value"] == expected
    assert body["quality"][4:8] == ["good", "bad", "uncertain", "good"]


async def test_raw_respects_range_and_limit(client: AsyncClient, acme, written) -> None:
    r = await get(
        client,
        "/api/history/raw",
        acme,
        tag=POWER,
        start="2024-05-01T12:00:10Z",
        end="2024-05-01T14:00:20+02:00",  # = 12:00:20Z: offsets are honoured
        limit=5,
    )
    body = r.json()
    assert body["ts"] == [format_ns(T0 + i * S) for i in range(10, 15)]
    assert body["truncated"] is True


async def test_raw_defaults_to_the_last_hour(client: AsyncClient, services: Services, acme) -> None:
    now = datetime.now(UTC).timestamp()
    services.store.write(SampleBatch.build([acme.ids[TEMP]], [int((now - 60) * S)], [42.5]))
    body = (await get(client, "/api/history/raw", acme, tag=TEMP)).json()
    assert body["value"] == [42.5]


async def test_aggregates_per_bucket_match_numpy(client: AsyncClient, acme, written) -> None:
    aggs = ["min", "max", "avg", "first", "last", "count", "sum"]
    r = await client.get(
        "/api/history/agg",
        params={"tag": POWER, "start": START, "end": END, "every": "1m", "agg": aggs},
        headers=acme.auth(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["every"] == "1m"
    assert body["bucket"] == ["2024-05-01T12:00:00.000Z", "2024-05-01T12:01:00.000Z"]
    good = written.quality != Quality.BAD
    for i in range(2):
        sel = good & (written.ts >= T0 + i * 60 * S) & (written.ts < T0 + (i + 1) * 60 * S)
        v = written.values[sel]
        assert body["columns"]["min"][i] == pytest.approx(v.min())
        assert body["columns"]["max"][i] == pytest.approx(v.max())
        assert body["columns"]["avg"][i] == pytest.approx(v.mean())
        assert body["columns"]["sum"][i] == pytest.approx(v.sum())
        assert body["columns"]["first"][i] == pytest.approx(v[0])
        assert body["columns"]["last"][i] == pytest.approx(v[-1])
        assert body["columns"]["count"][i] == len(v)
    assert isinstance(body["columns"]["count"][0], int)


async def test_aggregate_defaults_to_avg(client: AsyncClient, acme, written) -> None:
    r = await get(client, "/api/history/agg", acme, tag=POWER, start=START, end=END, every="1h")
    assert list(r.json()["columns"]) == ["avg"]


async def test_last_values_of_many_tags_at_once(client: AsyncClient, acme, written) -> None:
    r = await client.get("/api/last", params={"tag": [POWER, TEMP, RPM]}, headers=acme.auth())
    assert r.status_code == 200, r.text
    power, temp, rpm = r.json()
    assert power == {
        "tag": POWER,
        "unit": "kW",
        "ts": format_ns(int(written.ts[-1])),
        "value": float(written.values[-1]),
        "quality": "good",
    }
    assert temp == {"tag": TEMP, "unit": "degC", "ts": None, "value": None, "quality": None}
    assert (rpm["value"], rpm["ts"]) == (1500.0, format_ns(T0 + 30 * S))


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ({"start": "yesterday"}, 400, ["start", "ISO 8601"]),
        ({"start": "2024-05-01T12:00:00"}, 400, ["start", "time zone"]),
        ({"end": "2024-13-01T00:00:00Z"}, 400, ["end"]),
        ({"start": END, "end": START}, 400, ["start", "before end"]),
        ({"start": START, "end": START}, 400, ["start", "before end"]),
        ({"every": "10x"}, 400, ["every", "duration"]),
        ({"every": "0s"}, 400, ["every"]),
        ({"every": "1.5m"}, 400, ["every"]),
        ({"every": ""}, 400, ["every"]),
        ({"every": "1ms"}, 400, ["every", "buckets"]),
        ({"agg": "median"}, 422, ["agg"]),
        ({"limit": "0"}, 422, ["limit"]),
    ],
)
async def test_bad_parameters_are_4xx_naming_the_parameter(
    client: AsyncClient, acme, written, params: dict[str, str], status: int, names: list[str]
) -> None:
    query = {"tag": POWER, "start": START, "end": END} | params
    url = "/api/history/raw" if "limit" in params else "/api/history/agg"
    r = await client.get(url, params=query, headers=acme.auth())
    assert r.status_code == status, r.text
    for name in names:
        assert name in r.text


async def test_last_needs_a_tag(client: AsyncClient, acme) -> None:
    r = await client.get("/api/last", headers=acme.auth())
    assert r.status_code == 422
    assert "tag" in r.text


@pytest.mark.parametrize(
    "params",
    [
        {"start": "9999-12-31T23:59:59Z"},
        {"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"},
        {"end": "2262-04-12T00:00:00Z"},
        {"every": "999999999d"},
        {"every": "1h" * 300},
        {"tag": ""},
        {"tag": "%"},
        {"tag": "a" * 401},
        {"tag": "../../etc/passwd"},
        {"start": "2024-05-01T12:00:00+25:00"},
        {"start": "2024-05-01T12:00:00 02:00"},
        {"agg": ""},
        {"limit": "-1"},
        {"limit": "1e9"},
    ],
)
async def test_odd_input_is_never_a_server_error(
    client: AsyncClient, acme, written, params: dict[str, str]
) -> None:
    query = {"tag": POWER, "start": START, "end": END} | params
    for url in ("/api/history/raw", "/api/history/agg", "/api/last"):
        r = await client.get(url, params=query, headers=acme.auth())
        assert r.status_code < 500, (url, params, r.text)
        if r.status_code >= 400:
            assert r.json()["detail"]


async def test_too_many_tags_in_one_request_is_refused(client: AsyncClient, acme) -> None:
    paths = ["x"] * 10_001  # short, so the URL stays valid: the count alone is refused
    answer = await client.get("/api/last", params=[("tag", p) for p in paths], headers=acme.auth())
    assert answer.status_code == 422
    assert "tag" in answer.text
