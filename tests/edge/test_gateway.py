"""The gateway's outbox side without a network: encoding, gap markers, lost samples."""

import math
from pathlib import Path

import numpy as np

from factoryos.bus.codec import decode_batch
from factoryos.edge import Gateway, Outbox, Policy, edge_tag_ids, gap_marker
from factoryos.edge.errors import UplinkError
from factoryos.model import Quality, SampleBatch, parse_site
from support.sites import POWER, RPM, TEMP, site_yaml


class RecordingUplink:
    """An uplink that records what it is given and fails while ``down``."""

    def __init__(self) -> None:
        self.sent: list[tuple[range, SampleBatch]] = []
        self.down = False

    async def send(self, seqs: range, batch: SampleBatch) -> None:
        if self.down:
            raise UplinkError("down")
        self.sent.append((seqs, batch))

    async def close(self) -> None:
        return None


TAG_IDS = edge_tag_ids(parse_site(site_yaml()))


async def _gateway(
    tmp_path: Path, max_bytes: int = 10**6, policy: Policy = Policy.DROP_OLDEST
) -> Gateway:
    outbox = await Outbox.open(tmp_path / "o.sqlite", max_bytes=max_bytes, policy=policy)
    return Gateway("gw", outbox, RecordingUplink(), TAG_IDS)


def test_edge_ids_number_the_site_file_in_order() -> None:
    assert TAG_IDS == {POWER: 1, RPM: 2, TEMP: 3}


async def test_records_carry_uns_paths(tmp_path: Path) -> None:
    gw = await _gateway(tmp_path)
    await gw.publish(SampleBatch.build([3, 1], 100, [20.5, 7.0]))
    [(_, payload)] = await gw.outbox.peek(10)
    header, batch = decode_batch(payload)
    assert [header.paths[i] for i in batch.tag_ids] == [TEMP, POWER]
    assert gw.outbox.high_ts == 100
    await gw.outbox.close()


async def test_a_restart_marks_the_hole_after_the_newest_durable_sample(tmp_path: Path) -> None:
    gw = await _gateway(tmp_path)
    await gw.mark_restart_gap([1, 2, 3])  # a new outbox: nothing to mark
    assert await gw.outbox.peek(10) == []
    await gw.publish(SampleBatch.build([1, 2], 5_000, [1.0, 2.0]))
    await gw.outbox.close()
    again = await _gateway(tmp_path)
    await again.mark_restart_gap([1, 2, 3])
    _, payload = (await again.outbox.peek(10))[-1]
    header, batch = decode_batch(payload)
    assert [header.paths[i] for i in batch.tag_ids] == [POWER, RPM, TEMP]
    assert batch.ts.tolist() == [5_001] * 3
    assert (batch.quality == Quality.BAD).all() and np.isnan(batch.values).all()
    await again.outbox.close()


def test_gap_marker_is_bad_nan() -> None:
    marker = gap_marker([4, 5], 9)
    assert marker.tag_ids.tolist() == [4, 5] and marker.ts.tolist() == [9, 9]
    assert all(math.isnan(v) for v in marker.values) and set(marker.quality) == {Quality.BAD}


async def test_a_full_rejecting_outbox_counts_lost_samples(tmp_path: Path) -> None:
    gw = await _gateway(tmp_path, max_bytes=200, policy=Policy.REJECT)
    for _ in range(5):
        await gw.publish(SampleBatch.build([1, 2, 3], 1, [1.0, 2.0, 3.0]))
    assert gw.stats.lost_samples > 0
    assert len(await gw.outbox.peek(10)) == 5 - gw.stats.lost_samples // 3
    await gw.outbox.close()
