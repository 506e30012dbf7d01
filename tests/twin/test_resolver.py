"""Resolution logic with a fake registry and parent: cache, negative answers and their
shorter time to live, forwarding, invalidation, shared lookups, bounds."""

import asyncio
import re
import threading
from dataclasses import dataclass, field

import pytest

from factoryos.store.identifier_registry import Lookup, StoredIdentifier
from factoryos.twin.answers import Missing, Outcome, Resolution, resolution_of
from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import HandleError, NotFoundError, ParentError
from factoryos.twin.handles import Handle, ancestors
from factoryos.twin.resolver import NO_IDENTIFIER, NOT_SERVED, Resolver

T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
RECORD = '{"type":"product","name":"pump","epcs":["urn:epc:id:sgtin:9506000.134352.42"]}'


def stored(handle: str, version: int = 1) -> StoredIdentifier:
    prefix = handle.split("/", 1)[0]
    return StoredIdentifier(1, 1, handle, prefix, RECORD, version, T0, T0 + version)


@dataclass
class FakeRegistry:
    """Identifiers by handle, the prefixes served; counts lookups (called in a thread)."""

    found: dict[str, StoredIdentifier] = field(default_factory=dict)
    served: set[str] = field(default_factory=set)
    lookups: int = 0
    during: list[object] = field(default_factory=list)  # callables run inside a lookup

    def lookup(self, handle: Handle) -> Lookup:
        self.lookups += 1
        for run in self.during:
            run()  # type: ignore[operator]
        hit = self.found.get(str(handle))
        return Lookup(hit, hit is not None or bool(self.served & set(ancestors(handle.prefix))))


@dataclass
class FakeParent:
    url: str = "http://parent.test:8000"
    answers: dict[str, Outcome] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    fail: bool = False
    gate: asyncio.Event | None = None

    async def resolve(self, handle: str, hops: int) -> Outcome:
        self.calls.append((handle, hops))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ParentError(f"parent node {self.url} is unreachable")
        return self.answers.get(handle, Missing(handle, "parent", NO_IDENTIFIER))


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    registry: FakeRegistry, parent: FakeParent | None = None, size: int = 1000
) -> tuple[Resolver, Clock]:
    clock = Clock()
    config = ResolverConfig(node="child", cache_size=size, ttl_s=60, negative_ttl_s=5)
    return Resolver(registry, config, parent, clock), clock


async def test_a_local_identifier_is_looked_up_once_then_cached() -> None:
    registry = FakeRegistry({"88.1/a": stored("88.1/a")}, {"88.1"})
    resolver, _ = make(registry)

    first = await resolver.resolve("88.1/a")
    second = await resolver.resolve("88.1/a")

    assert (first.cached, second.cached) == (False, True)
    assert first.model_copy(update={"cached": True}) == second
    assert (first.node, first.hops, first.record.name) == ("child", 0, "pump")
    assert first.history[0].events.startswith("/api/epcis/events?MATCH_anyEPC=urn%3Aepc")
    assert registry.lookups == 1
    assert (resolver.stats.from_cache, resolver.stats.local) == (1, 1)


async def test_prefix_case_does_not_make_another_entry() -> None:
    registry = FakeRegistry({"88.abc/a": stored("88.abc/a")}, {"88.abc"})
    resolver, _ = make(registry)

    await resolver.resolve("88.abc/a")
    answer = await resolver.resolve("88.ABC/a")

    assert answer.cached and registry.lookups == 1


async def test_not_found_under_a_served_prefix_is_cached_briefly() -> None:
    registry = FakeRegistry(served={"88.1"})
    resolver, clock = make(registry)

    for _ in range(3):
        with pytest.raises(NotFoundError) as caught:
            await resolver.resolve("88.1/nothing")
    assert caught.value.reason == NO_IDENTIFIER and caught.value.node == "child"
    assert registry.lookups == 1
    clock.now += 5  # the negative time to live
    with pytest.raises(NotFoundError):
        await resolver.resolve("88.1/nothing")
    assert registry.lookups == 2


async def test_without_a_parent_an_unserved_prefix_is_not_found() -> None:
    resolver, _ = make(FakeRegistry(served={"88.1"}))

    with pytest.raises(NotFoundError, match=NOT_SERVED):
        await resolver.resolve("77.1/x")


async def test_unserved_prefixes_go_to_the_parent_and_its_answers_are_cached() -> None:
    remote = resolution_of(stored("99.5/p"), "parent")
    parent = FakeParent(answers={"99.5/p": remote})
    registry = FakeRegistry(served={"88.1"})
    resolver, clock = make(registry, parent)

    first = await resolver.resolve("99.5/p", hops=2)
    again = await resolver.resolve("99.5/p")

    assert first == remote and again.cached
    assert parent.calls == [("99.5/p", 2)]  # hops are passed on for the loop guard
    clock.now += 60
    await resolver.resolve("99.5/p")
    assert len(parent.calls) == 2
    assert resolver.stats.forwarded == 2


async def test_the_parents_not_found_is_cached_with_the_short_ttl() -> None:
    parent = FakeParent()
    resolver, clock = make(FakeRegistry(), parent)

    with pytest.raises(NotFoundError, match="answered by node 'parent'"):
        await resolver.resolve("99.5/none")
    with pytest.raises(NotFoundError):
        await resolver.resolve("99.5/none")
    assert len(parent.calls) == 1
    clock.now += 5
    with pytest.raises(NotFoundError):
        await resolver.resolve("99.5/none")
    assert len(parent.calls) == 2


async def test_a_failing_parent_is_not_cached() -> None:
    parent = FakeParent(fail=True)
    resolver, _ = make(FakeRegistry(), parent)

    for _ in range(2):
        with pytest.raises(ParentError, match=re.escape("parent.test")):
            await resolver.resolve("99.5/p")
    assert len(parent.calls) == 2
    parent.fail = False
    with pytest.raises(NotFoundError):
        await resolver.resolve("99.5/p")


async def test_forget_drops_the_entry() -> None:
    registry = FakeRegistry({"88.1/a": stored("88.1/a")}, {"88.1"})
    resolver, _ = make(registry)
    await resolver.resolve("88.1/a")

    registry.found["88.1/a"] = stored("88.1/a", version=2)
    resolver.forget("88.1/a")

    answer = await resolver.resolve("88.1/a")
    assert (answer.version, answer.cached) == (2, False)


async def test_a_lookup_overtaken_by_a_registration_is_not_cached() -> None:
    registry = FakeRegistry({"88.1/a": stored("88.1/a")}, {"88.1"})
    resolver, _ = make(registry)
    registry.during.append(lambda: resolver.forget("88.1/a"))  # registered meanwhile

    await resolver.resolve("88.1/a")
    registry.during.clear()
    answer = await resolver.resolve("88.1/a")

    assert not answer.cached and registry.lookups == 2


async def test_concurrent_requests_for_one_handle_share_one_forward() -> None:
    parent = FakeParent(answers={"99.5/p": resolution_of(stored("99.5/p"), "parent")})
    parent.gate = asyncio.Event()
    resolver, _ = make(FakeRegistry(), parent)

    waiting = [asyncio.create_task(resolver.resolve("99.5/p")) for _ in range(50)]
    await asyncio.sleep(0.05)
    parent.gate.set()
    answers = await asyncio.gather(*waiting)

    assert len(parent.calls) == 1
    assert {a.handle for a in answers} == {"99.5/p"}


async def test_a_waiter_cancelled_does_not_cancel_the_others() -> None:
    parent = FakeParent(answers={"99.5/p": resolution_of(stored("99.5/p"), "parent")})
    parent.gate = asyncio.Event()
    resolver, _ = make(FakeRegistry(), parent)
    first = asyncio.create_task(resolver.resolve("99.5/p"))
    second = asyncio.create_task(resolver.resolve("99.5/p"))
    await asyncio.sleep(0.05)

    first.cancel()
    parent.gate.set()

    assert (await second).handle == "99.5/p"
    assert first.cancelled()


async def test_the_cache_stays_within_its_capacity() -> None:
    registry = FakeRegistry({f"88.1/{n}": stored(f"88.1/{n}") for n in range(200)}, {"88.1"})
    resolver, _ = make(registry, size=50)

    for n in range(200):
        await resolver.resolve(f"88.1/{n}")

    assert len(resolver.cache) == 50
    assert (await resolver.resolve("88.1/199")).cached
    assert not (await resolver.resolve("88.1/0")).cached


async def test_a_malformed_handle_is_refused_before_any_lookup() -> None:
    registry = FakeRegistry()
    resolver, _ = make(registry, FakeParent())

    with pytest.raises(HandleError, match="suffix character 2 is ' '"):
        await resolver.resolve("88.1/a b")
    assert registry.lookups == 0


async def test_lookups_run_off_the_event_loop() -> None:
    seen: list[bool] = []

    class Recording(FakeRegistry):
        def lookup(self, handle: Handle) -> Lookup:
            seen.append(threading.current_thread() is threading.main_thread())
            return super().lookup(handle)

    resolver, _ = make(Recording(served={"88.1"}))
    with pytest.raises(NotFoundError):
        await resolver.resolve("88.1/x")

    assert seen == [False]


def test_the_answer_type_is_what_the_api_serves() -> None:
    answer = resolution_of(stored("88.1/a"), "n")
    assert Resolution.model_validate_json(answer.model_dump_json()) == answer
    assert answer.created == "2026-01-01T00:00:00.000Z"
    assert answer.updated == "2026-01-01T00:00:00.000000001Z"
