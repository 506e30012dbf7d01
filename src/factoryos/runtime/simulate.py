"""``factoryos simulate``: history at full speed, or the plant's Modbus devices in real time."""

import asyncio
import signal
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from factoryos.model import SiteFile
from factoryos.runtime.history import record_history
from factoryos.runtime.platform import Platform
from factoryos.sim import SimulatorHost, VirtualFactory

NS_PER_HOUR = 3_600_000_000_000


def run_fast(site: SiteFile, seed: int, hours: float, data_dir: Path, console: Console) -> None:
    """Simulate the ``hours`` up to now into the store; write the ground truth beside it."""
    platform = Platform(site, data_dir)
    try:
        start = time.time_ns() - round(hours * NS_PER_HOUR)
        factory = VirtualFactory(site, seed=seed, start_ns=start)
        steps = round(hours * 3600 / factory.step_s)
        columns = (TextColumn("simulating"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
        with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as bar:
            task = bar.add_task("simulate", total=steps)
            result = record_history(
                factory, platform.store, platform.tag_ids, steps, lambda n: bar.advance(task, n)
            )
        truth = data_dir / "groundtruth"
        factory.truth.write_parquet(truth)
    finally:
        platform.close()
    console.print(
        f"{hours:g} simulated hours: {result.samples:,} samples stored in {data_dir}, "
        f"ground truth (states, parts, faults, failures) in {truth}"
    )


def _device_table(site: SiteFile) -> Table:
    table = Table(title=f"virtual factory — site {site.site.name}")
    for column in ("device", "protocol", "address", "tags"):
        table.add_column(column)
    for device in site.devices:
        tags = sum(1 for ref in site.tags() if ref.equipment.device == device.name)
        table.add_row(device.name, device.protocol, device.address, str(tags))
    return table


async def run_realtime(site: SiteFile, seed: int, console: Console) -> None:
    """Serve every device of the site over Modbus TCP, stepping in real time, until Ctrl-C."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SimulatorHost(VirtualFactory(site, seed=seed, start_ns=time.time_ns())) as host:
        host.sync_all()
        console.print(_device_table(site))
        console.print("serving in real time; Ctrl-C stops.")
        await host.run_realtime(stop)
