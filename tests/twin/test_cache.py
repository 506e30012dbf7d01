"""The resolver's cache: bounded by capacity, entries expire, and it counts what it did."""

import threading

import pytest

from factoryos.twin.cache import TtlLru


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_own_time_to_live() -> None:
    clock = Clock()
    cache: TtlLru[str, int] = TtlLru(10, clock)
    cache.put("long", 1, ttl_s=60)
    cache.put("short", 2, ttl_s=5)

    clock.now += 4.9
    assert (cache.get("long"), cache.get("short")) == (1, 2)
    clock.now += 0.1
    assert (cache.get("long"), cache.get("short")) == (1, None)
    clock.now += 55
    assert cache.get("long") is None
    assert len(cache) == 0
    assert cache.stats.expired == 2


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: TtlLru[str, int] = TtlLru(3, Clock())
    for n, key in enumerate("abc"):
        cache.put(key, n, 60)
    assert cache.get("a") == 0  # a is now the most recent: b is the oldest

    cache.put("d", 3, 60)

    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [0, 2, 3]
    assert len(cache) == 3 and cache.stats.evicted == 1


def test_capacity_holds_whatever_is_put() -> None:
    cache: TtlLru[int, int] = TtlLru(100, Clock())
    for n in range(10_000):
        cache.put(n, n, 60)

    assert len(cache) == 100
    assert cache.get(9_999) == 9_999 and cache.get(0) is None
    assert cache.stats.evicted == 9_900


def test_forget_clear_and_zero_ttl() -> None:
    cache: TtlLru[str, int] = TtlLru(10, Clock())
    cache.put("a", 1, 60)
    cache.put("b", 2, 60)
    cache.put("never", 3, 0)  # a zero time to live keeps nothing

    cache.forget("a")
    cache.forget("missing")  # no error
    assert (cache.get("a"), cache.get("b"), cache.get("never")) == (None, 2, None)
    cache.clear()
    assert cache.get("b") is None


def test_hit_rate_counts_hits_and_misses() -> None:
    cache: TtlLru[str, int] = TtlLru(10, Clock())
    assert cache.stats.hit_rate == 0.0
    cache.put("a", 1, 60)
    for key in ("a", "a", "a", "b"):
        cache.get(key)

    assert (cache.stats.hits, cache.stats.misses, cache.stats.hit_rate) == (3, 1, 0.75)


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity: 0"):
        TtlLru(0)


def test_threads_forgetting_while_another_reads_break_nothing() -> None:
    cache: TtlLru[int, int] = TtlLru(500, Clock())
    errors: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for n in range(20_000):
                key = (n + offset) % 700
                cache.put(key, n, 60)
                cache.get((key * 7) % 700)
                cache.forget((key * 3) % 700)
        except BaseException as exc:  # any exception is the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(k * 101,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(cache) <= 500
