"""GET /api/history/resample over a real app, catalog and DuckDB store."""

import math

import numpy as np
import pytest
from httpx import AsyncClient

from factoryos.api import Services
from factoryos.api.routes import resample as resample_route
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from support.sites import POWER, TEMP

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
S = 10**9
START, END = "2024-05-01T12:00:00Z", "2024-05-01T12:02:00Z"
URL = "/api/history/resample"


@pytest.fixture
def written(services: Services, acme) -> SampleBatch:
    """A step signal with a value before the range, a bad sample and a late change."""
    secs = [-5, 20, 30, 40, 90]
    values = [10.0, 20.0, math.nan, 40.0, 50.0]
    quality = [Quality.GOOD, Quality.GOOD, Quality.BAD, Quality.GOOD, Quality.UNCERTAIN]
    power = SampleBatch.build([acme.ids[POWER]] * 5, T0 + np.array(secs) * S, values, quality)
    services.store.write(power)
    return power


async def get(client: AsyncClient, acme, **params: object):
    query = {"tag": POWER, "start": START, "end": END} | params
    return await client.get(URL, params=query, headers=acme.auth())


async def test_time_weighted_average_with_the_bad_stretch_left_out(
    client: AsyncClient, acme, written
) -> None:
    r = await get(client, acme, every="1m", max_gap="1m")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["tag"], body["unit"], body["method"], body["every"]) == (POWER, "kW", "twa", "1m")
    assert body["max_gap_s"] == 60.0
    assert body["bucket"] == ["2024-05-01T12:00:00.000Z", "2024-05-01T12:01:00.000Z"]
    # [0,20) 10 (from the sample before start) · [20,30) 20 · [30,40) bad · [40,60) 40
    # then 40 until 90 s and 50 after: (10×20 + 20×10 + 40×20) / 50 and (40×30 + 50×30) / 60
    assert body["value"] == [24.0, 45.0]
    assert body["gap"] == [True, False]


async def test_step_takes_the_value_at_each_bucket_start(
    client: AsyncClient, acme, written
) -> None:
    body = (await get(client, acme, every="30s", method="step", max_gap="1m")).json()
    assert body["value"] == [10.0, None, 40.0, 50.0]  # at 0 s, 30 s (bad), 60 s, 90 s
    assert body["gap"] == [False, True, False, False]


async def test_silence_beyond_max_gap_is_null_and_a_gap(client: AsyncClient, acme, written) -> None:
    body = (await get(client, acme, end="2024-05-01T12:04:00Z", every="1m", max_gap="1m")).json()
    assert body["value"] == [24.0, 45.0, 50.0, None]  # 50 holds until 150 s
    assert body["gap"] == [True, False, True, True]


async def test_max_gap_defaults_to_ten_median_intervals(client: AsyncClient, acme, written) -> None:
    body = (await get(client, acme, every="1m", method="step")).json()
    assert body["max_gap_s"] == 100.0  # intervals in range 10, 10, 50 s
    assert body["value"] == [10.0, 40.0]


async def test_the_value_before_start_expires_with_max_gap(
    client: AsyncClient, acme, written
) -> None:
    body = (await get(client, acme, every="1m", method="step", max_gap="2s")).json()
    assert body["value"] == [None, None]
    assert body["gap"] == [True, True]


async def test_a_tag_without_samples_is_all_gap(client: AsyncClient, acme, written) -> None:
    body = (await get(client, acme, tag=TEMP, every="1m")).json()
    assert body["value"] == [None, None]
    assert body["gap"] == [True, True]


async def test_too_many_raw_samples_point_to_agg(
    client: AsyncClient, acme, written, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resample_route, "MAX_RESAMPLE_RAW", 3)
    r = await get(client, acme, every="1m", max_gap="1m")
    assert r.status_code == 400
    assert "start/end" in r.text and "/api/history/agg" in r.text
    r = await get(client, acme, start="2024-05-01T12:00:25Z", max_gap="1h")
    assert r.status_code == 400  # 3 samples in range, 2 in the lookback
    assert "max_gap" in r.text and "/api/history/agg" in r.text
    assert (await get(client, acme, start="2024-05-01T12:00:25Z", max_gap="2s")).status_code == 200


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ({"method": "mean"}, 422, ["method"]),
        ({"every": "1ms"}, 400, ["every", "buckets"]),
        ({"every": "0s"}, 400, ["every"]),
        ({"max_gap": "0s"}, 400, ["max_gap"]),
        ({"max_gap": "soon"}, 400, ["max_gap", "duration"]),
        ({"max_gap": "999999999w"}, 200, []),
        ({"start": END, "end": START}, 400, ["start", "before end"]),
        ({"start": "1678-01-01T00:00:00Z"}, 400, ["every"]),
        ({"tag": "plant1/nowhere"}, 404, ["plant1/nowhere"]),
    ],
)
async def test_bad_parameters_are_4xx_naming_the_parameter(
    client: AsyncClient, acme, written, params: dict[str, str], status: int, names: list[str]
) -> None:
    r = await get(client, acme, **params)
    assert r.status_code == status, r.text
    for name in names:
        assert name in r.text


async def test_needs_a_key_and_sees_only_its_tenant(
    client: AsyncClient, acme, globex, written
) -> None:
    r = await client.get(URL, params={"tag": POWER, "start": START, "end": END})
    assert r.status_code == 401
    body = (await get(client, globex, every="1m", max_gap="1m")).json()
    assert body["value"] == [None, None]  # globex's tag of the same path has no samples
