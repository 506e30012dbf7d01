"""History export over REST: streamed CSV and Parquet, exactly what was stored, tenant-scoped."""

import csv
import io

import numpy as np
import pyarrow.parquet as pq
import pytest
from httpx import AsyncClient

from factoryos.api import Services
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.timeparse import format_ns
from support.sites import POWER, TEMP

T0 = 1_714_564_800 * 10**9
START, END = format_ns(T0), format_ns(T0 + 3600 * 10**9)


@pytest.fixture
def written(services: Services, acme, globex) -> SampleBatch:
    n = 500
    ids = np.tile([acme.ids[POWER], acme.ids[TEMP]], n)
    ts = T0 + np.repeat(np.arange(n), 2) * 10**9
    values = np.arange(2 * n, dtype=np.float64)
    quality = np.full(2 * n, Quality.GOOD, dtype=np.uint8)
    quality[7], values[7] = Quality.BAD, np.nan
    batch = SampleBatch.build(ids, ts, values, quality)
    services.store.write(batch)
    services.store.write(SampleBatch.build([globex.ids[POWER]], T0, [999.0]))  # other tenant
    return batch


def _params(fmt: str) -> list[tuple[str, str]]:
    return [("tag", POWER), ("tag", TEMP), ("start", START), ("end", END), ("format", fmt)]


async def test_csv_export_holds_every_sample_in_time_order(
    client: AsyncClient, acme, written: SampleBatch
) -> None:
    answer = await client.get("/api/export", params=_params("csv"), headers=acme.auth())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(written)
    assert rows[0] == {"time": START, "tag": POWER, "value": "0", "quality": "good"}
    assert rows[7]["value"] == "" and rows[7]["quality"] == "bad"
    assert [float(r["value"]) for r in rows[8:12]] == [8.0, 9.0, 10.0, 11.0]
    assert {r["tag"] for r in rows} == {POWER, TEMP}


async def test_parquet_export_streams_row_groups(
    client: AsyncClient, acme, written: SampleBatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryos.api.routes import export

    monkeypatch.setattr(export, "CHUNK_ROWS", 128)  # many chunks: the file is built as it streams
    answer = await client.get("/api/export", params=_params("parquet"), headers=acme.auth())
    assert answer.status_code == 200
    parquet = pq.ParquetFile(io.BytesIO(answer.content))
    assert parquet.metadata.num_row_groups == 8  # 1000 rows in chunks of 128
    table = parquet.read()
    assert table.num_rows == len(written)
    np.testing.assert_array_equal(
        table.column("time").cast("int64").to_numpy(), np.sort(written.ts, kind="stable")
    )
    assert table.column("value").null_count == 1


async def test_export_refuses_other_tenants_and_bad_input(
    client: AsyncClient, acme, globex
) -> None:
    other = await client.get(
        "/api/export", params=[("tag", "plant1/nope"), ("start", START)], headers=acme.auth()
    )
    assert other.status_code == 404
    bad = await client.get("/api/export", params=_params("xlsx"), headers=acme.auth())
    assert bad.status_code == 422
    backwards = await client.get(
        "/api/export",
        params=[("tag", POWER), ("start", END), ("end", START)],
        headers=acme.auth(),
    )
    assert backwards.status_code == 400
    assert "start" in backwards.json()["detail"]
    none = await client.get("/api/export", params=_params("csv"))
    assert none.status_code == 401
