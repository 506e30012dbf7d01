"""The read counters of the disk under a path, against this machine's kernel."""

import mmap
import os
from pathlib import Path

from factoryos.bench.diskstats import DiskReads, disk_reads

BLOCK = 1 << 16


def _read_direct(path: Path) -> None:
    """Read ``path`` past the page cache, so the disk itself is asked."""
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT wants
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [buffer], 0) == BLOCK
    finally:
        os.close(fd)


def test_reading_a_file_from_disk_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(os.urandom(BLOCK))
    os.sync()
    before = disk_reads(path)
    assert before is not None, "the test folder is on a block device here"
    _read_direct(path)
    after = disk_reads(path)
    assert after is not None
    done = after - before
    assert done.reads >= 1 and done.bytes >= BLOCK and done.ms >= 0


def test_no_device_no_counters(tmp_path: Path) -> None:
    assert disk_reads(Path("/proc/self/status")) is None  # a file system without a disk
    assert disk_reads(tmp_path / "missing") is None


def test_counters_subtract_field_by_field() -> None:
    assert DiskReads(10, 8192, 7) - DiskReads(4, 4096, 2) == DiskReads(6, 4096, 5)
