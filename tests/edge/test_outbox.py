"""The durable outbox: order, acks, reopen, torn tails, the size bound and kill -9."""

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from factoryos.edge.errors import OutboxError, OutboxFullError
from factoryos.edge.outbox import Outbox, Policy


def _rec(i: int, size: int = 10) -> bytes:
    return i.to_bytes(4, "little") * (size // 4) + b"x" * (size % 4)


async def test_append_peek_ack_in_order(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.sqlite", max_bytes=10_000)
    seqs = [await box.append(_rec(i), samples=1, max_ts=i) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [s for s, _ in await box.peek(3)] == [1, 2, 3]
    await box.ack(2)
    assert await box.peek(10) == [(s, _rec(s - 1)) for s in (3, 4, 5)]
    assert box.stats.pending_records == 3 and box.stats.pending_bytes == 30
    await box.close()


async def test_concurrent_appends_share_commits_and_keep_order(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.sqlite", max_bytes=10**6)
    seqs = await asyncio.gather(*(box.append(_rec(i)) for i in range(300)))
    assert seqs == list(range(1, 301))  # submitted in order, stored in order
    assert box.stats.commits < 300  # group commit: fewer fsyncs than appends
    records = await box.peek(1000)
    assert [r for _, r in records] == [_rec(i) for i in range(300)]
    await box.close()


async def test_reopen_keeps_records_and_never_reuses_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = await Outbox.open(path, max_bytes=10_000)
    for i in range(4):
        await box.append(_rec(i), max_ts=100 + i)
    await box.ack(4)  # emptied
    await box.close()
    box = await Outbox.open(path, max_bytes=10_000)
    assert box.last_seq == 4 and box.high_ts == 103
    assert await box.peek(10) == []
    assert await box.append(_rec(9)) == 5
    await box.close()


async def test_drop_oldest_counts_samples_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = await Outbox.open(tmp_path / "o.sqlite", max_bytes=100)
    for i in range(10):
        await box.append(_rec(i, 10), samples=3)
    assert box.dropped_samples == 0
    with caplog.at_level("WARNING", logger="factoryos.edge.outbox"):
        for i in range(10, 15):
            await box.append(_rec(i, 10), samples=3)
    assert [s for s, _ in await box.peek(100)] == list(range(6, 16))
    assert box.dropped_samples == 15 and box.stats.dropped_records == 5
    assert box.stats.dropping
    assert [r.message for r in caplog.records].count(
        f"outbox {box.path} full (100 bytes): dropping the oldest undelivered records"
    ) == 1
    await box.ack(15)
    await box.append(_rec(99, 10))
    assert not box.stats.dropping
    await box.close()


async def test_reject_policy_keeps_the_oldest(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.sqlite", max_bytes=25, policy=Policy.REJECT)
    await box.append(_rec(1, 10))
    await box.append(_rec(2, 10))
    with pytest.raises(OutboxFullError, match="is full"):
        await box.append(_rec(3, 10))
    assert [s for s, _ in await box.peek(10)] == [1, 2]
    with pytest.raises(OutboxFullError, match="can never fit"):
        await box.append(b"y" * 26)
    await box.close()


async def test_a_closed_outbox_refuses_work(tmp_path: Path) -> None:
    box = await Outbox.open(tmp_path / "o.sqlite", max_bytes=100)
    await box.close()
    with pytest.raises(OutboxError, match="closed"):
        await box.append(b"x")


def test_an_unopenable_path_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(OutboxError, match=r"dir\.sqlite: cannot open"):
        asyncio.run(Outbox.open(tmp_path / "dir.sqlite", max_bytes=100))


def _copy_live(src: Path, dst: Path) -> None:
    """Copy an open outbox's files as a power cut would leave them (WAL not checkpointed)."""
    dst.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(f"{src}{suffix}", dst / f"o.sqlite{suffix}")


async def _appended(path: Path, n: int) -> Outbox:
    box = await Outbox.open(path, max_bytes=10**6)
    for i in range(n):
        await box.append(_rec(i, 400))
    return box


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
async def test_a_torn_last_commit_is_discarded(tmp_path: Path, damage: str) -> None:
    box = await _appended(tmp_path / "o.sqlite", 5)
    _copy_live(tmp_path / "o.sqlite", tmp_path / "cut")
    await box.close()
    wal = tmp_path / "cut" / "o.sqlite-wal"
    data = bytearray(wal.read_bytes())
    if damage == "truncate":
        data = data[:-300]  # the last commit's final frame is torn
    else:
        data[-300] ^= 0xFF  # a bit flip inside the last commit's frame
    wal.write_bytes(bytes(data))
    survivor = await Outbox.open(tmp_path / "cut" / "o.sqlite", max_bytes=10**6)
    records = await survivor.peek(10)
    assert records == [(s, _rec(s - 1, 400)) for s in range(1, 5)]
    assert await survivor.append(b"next") == 5
    await survivor.close()


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from factoryos.edge.outbox import Outbox

    async def main():
        box = await Outbox.open(sys.argv[1], max_bytes=10**9)
        async def one(i):
            seq = await box.append(i.to_bytes(8, "little") * 64, samples=1)
            print(seq, flush=True)
        i = 0
        while True:
            await asyncio.gather(*(one(i + k) for k in range(8)))
            i += 8

    asyncio.run(main())
    """
)


def test_every_seq_reported_durable_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    reported: list[int] = []
    deadline = time.monotonic() + 30
    while len(reported) < 2000 and time.monotonic() < deadline:
        reported.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)  # mid-run: appends are in flight
    proc.wait(10)
    reported += [int(line) for line in proc.stdout.read().split()]
    proc.stdout.close()
    assert len(reported) >= 2000
    con = sqlite3.connect(path)
    stored = [s for (s,) in con.execute("SELECT seq FROM records ORDER BY seq")]
    payloads = {s: p for s, p in con.execute("SELECT seq, payload FROM records")}
    con.close()
    assert stored == list(range(1, len(stored) + 1))  # a prefix, in order, no hole
    assert set(reported) <= set(stored)
    assert all(payloads[s] == (s - 1).to_bytes(8, "little") * 64 for s in reported)
