"""Runs of consecutive identifiers (read as index ranges by a genealogy level): which keys
make a run, and that the spans always cover every key once, in order."""

import random

import pytest

from factoryos.store.key_runs import key_runs

UNIT = "urn:epc:id:sgtin:4012345.010022."


def _spans(keys: list[str], **kwargs: int) -> list[tuple[str, str]]:
    return [(keys[span[0]], keys[span[-1]]) for span in key_runs(keys, **kwargs)]


def test_consecutive_serials_make_one_run_and_short_ones_stay_single() -> None:
    serials = [f"{UNIT}{n}" for n in range(126_957, 126_977)]
    lots = [
        "urn:epc:class:lgtin:4012345.010014.CT000273",
        "urn:epc:class:lgtin:4012345.010014.CT000274",
    ]
    assert _spans(sorted(serials + lots)) == [
        (lots[0], lots[0]), (lots[1], lots[1]), (serials[0], serials[-1]),
    ]  # fmt: skip


def test_a_run_breaks_at_a_gap_a_new_stem_or_another_width() -> None:
    keys = sorted(
        [f"a:{n:03d}" for n in (*range(100, 110), *range(111, 120), *range(140, 150))]
        + [f"b:{n}" for n in range(10, 20)]
        + [f"b:{n}" for n in range(100, 110)]  # unpadded: b:100 … b:109 sort after b:10
    )
    assert _spans(keys, min_run=8, max_gap=2) == [
        ("a:100", "a:119"),  # a:110 missing: 109 → 111 is a step of 2
        ("a:140", "a:149"),
        ("b:10", "b:10"),  # then another width
        ("b:100", "b:109"),
        ("b:11", "b:19"),  # its range would also hold b:110 … (the reader drops those)
    ]
    assert _spans(keys, min_run=8, max_gap=1)[:2] == [("a:100", "a:109"), ("a:111", "a:119")]


def test_keys_without_a_trailing_number_are_single() -> None:
    keys = ["case:x", "case:y", *(f"lot:{n}" for n in range(1, 9)), "lot:9x"]
    assert _spans(keys) == [("case:x", "case:x"), ("case:y", "case:y"),
                            ("lot:1", "lot:8"), ("lot:9x", "lot:9x")]  # fmt: skip


@pytest.mark.parametrize("seed", range(20))
def test_the_spans_cover_every_key_once_in_order(seed: int) -> None:
    rng = random.Random(seed)
    stems = ["u:", "lot:A", "sscc:11", "x"]
    keys = sorted({f"{rng.choice(stems)}{rng.randrange(200):0{rng.choice((1, 3))}d}"
                   for _ in range(rng.randrange(0, 300))})  # fmt: skip
    spans = key_runs(keys, min_run=rng.randrange(2, 10), max_gap=rng.randrange(1, 4))
    assert [at for span in spans for at in span] == list(range(len(keys)))
    assert all(span.step == 1 for span in spans)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_run 1 < 2"):
        key_runs(["a"], min_run=1)
