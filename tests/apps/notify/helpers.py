"""Settings and waits shared by the notification tests."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from factoryos.apps.notify import (
    Notification,
    Notifier,
    NotifyConfig,
    NotifySettings,
    resolve,
)

SECRET = "s3cret-for-tests"
ENV = {"NOTIFY_TEST_SECRET": SECRET}
FAST_RETRY = {"max_attempts": 3, "backoff_first_s": 0.01, "backoff_max_s": 0.05}
WAIT_S = 10.0


def webhook(port: int, path: str = "/hook", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "webhook",
        "url": f"http://127.0.0.1:{port}{path}",
        "secret_env": "NOTIFY_TEST_SECRET",
        "timeout_s": 2,
        **extra,
    }


def settings(
    channels: dict[str, Any], routes: list[dict[str, Any]] | None = None, **options: Any
) -> NotifySettings:
    """Every channel on one catch-all route unless ``routes`` says otherwise."""
    config = NotifyConfig.model_validate(
        {
            "channels": channels,
            "routes": routes if routes is not None else [{"channels": list(channels)}],
            "retry": FAST_RETRY,
            **options,
        }
    )
    return resolve(config, ENV)


def note(key: str = "oven-hh/activated", **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "source": "alarm",
        "subject": "Oven T HH",
        "body": "Oven temperature above 250 °C",
        "labels": {"equipment": "demo/machining/oven-01", "alarm": "Oven T HH"},
        "priority": 4,
        "ts_ns": 1_795_507_200_250_000_000,
    }
    return Notification(key=key, **{**values, **fields})


@asynccontextmanager
async def started(notifier: Notifier) -> AsyncIterator[None]:
    """``notifier.run`` in a task until the block ends (then stopped, drained, awaited)."""
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def until(condition: Callable[[], bool], within_s: float = WAIT_S) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 (polls counters of the notifier)
            await asyncio.sleep(0.01)
