"""Reads from the block device that holds a path, as the kernel counts them
(``/sys/dev/block/MAJOR:MINOR/stat``, Linux).

A benchmark whose tail is disk reads says how many it made and how long the device took over
them, so a slow run shows whether the time went to the software or to the storage. The counts
are the whole device's: anything else reading the same disk meanwhile is counted too.
"""

import os
from dataclasses import dataclass
from pathlib import Path

SYS_DEV_BLOCK = Path("/sys/dev/block")
SECTOR = 512  # the unit of the stat file's sector counts, whatever the device's own


@dataclass(frozen=True, slots=True)
class DiskReads:
    reads: int  # read requests completed (after merging)
    bytes: int
    ms: int  # time the requests spent in flight, summed over requests

    def __sub__(self, earlier: "DiskReads") -> "DiskReads":
        return DiskReads(self.reads - earlier.reads, self.bytes - earlier.bytes,
                         self.ms - earlier.ms)  # fmt: skip


def disk_reads(path: Path) -> DiskReads | None:
    """The read counters of the device holding ``path``; None where there are none to read
    (not Linux, a path that is not here, a file system without a block device of its own)."""
    try:
        device = os.stat(path).st_dev
        fields = (SYS_DEV_BLOCK / f"{os.major(device)}:{os.minor(device)}" / "stat").read_text()
    except OSError:
        return None
    reads, _merged, sectors, ms = (int(x) for x in fields.split()[:4])
    return DiskReads(reads, sectors * SECTOR, ms)


__all__ = ["DiskReads", "disk_reads"]
