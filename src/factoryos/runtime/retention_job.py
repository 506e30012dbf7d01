"""The periodic retention run of a platform: the site file's policy, applied at start and
then every ``every_s`` seconds, in a worker thread (a run holds the store's write lock).

A failed run is logged when failing starts and when a run succeeds again, not every time;
the next run is the retry. ``stats`` feeds ``/metrics``.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from factoryos.store.backend import TimeSeriesStore
from factoryos.store.errors import StoreError
from factoryos.store.retention import RetentionPolicy

logger = logging.getLogger(__name__)

DEFAULT_EVERY_S = 3600.0


@dataclass
class RetentionStats:
    runs: int = 0
    failures: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    """Rows deleted per table over all runs."""
    last_success_ns: int | None = None


class RetentionJob:
    """Applies ``policy`` to ``store`` now and every ``every_s`` seconds until halted."""

    def __init__(
        self,
        store: TimeSeriesStore,
        policy: RetentionPolicy,
        every_s: float = DEFAULT_EVERY_S,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if every_s <= 0:
            raise ValueError(f"retention every_s must be > 0, got {every_s}")
        self.store = store
        self.policy = policy
        self.every_s = every_s
        self.clock = clock
        self.stats = RetentionStats()
        self._failing = False

    async def run(self, halt: asyncio.Event) -> None:
        while not halt.is_set():
            await self.run_once()
            try:
                await asyncio.wait_for(halt.wait(), timeout=self.every_s)
            except TimeoutError:
                continue

    async def run_once(self) -> dict[str, int] | None:
        """One run; returns the rows deleted per table, or None if it failed."""
        try:
            deleted = await asyncio.to_thread(self.store.apply_retention, self.policy, self.clock())
        except StoreError as e:
            self.stats.failures += 1
            if not self._failing:
                logger.error("retention failed (retrying every %.0f s): %s", self.every_s, e)
            self._failing = True
            return None
        if self._failing:
            logger.info("retention recovered")
        self._failing = False
        self.stats.runs += 1
        self.stats.last_success_ns = self.clock()
        for table, rows in deleted.items():
            self.stats.deleted[table] = self.stats.deleted.get(table, 0) + rows
        return deleted
