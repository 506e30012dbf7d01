"""Runs of consecutive identifiers: how a wide genealogy level is read in index order.

The wide levels of a trace are serials and lots made one after another: their identifiers
differ only in a trailing number (``….010022.126957``, ``….126958``, …), so in an index on the
identifier they sit side by side. Reading such a run as one range of the index costs one
descent and a sequential scan of its leaf pages, against one descent per identifier when each
is looked up alone; PostgreSQL 15 descends once per element even for an ``= ANY(array)`` list.

A range can also hold identifiers that are not in the level: an unpadded serial ``1000``
sorts between ``100`` and ``101``, a suffixed one between its stem and the next. The reader
drops those rows, caps the rows each range may read, and reads a run that reaches its cap
again identifier by identifier, so a wrong guess costs a bounded number of rows and never an
answer. Runs shorter than ``min_run`` are looked up one by one: too short to save much.
"""

from collections.abc import Sequence

_DIGITS = "0123456789"


def key_runs(keys: Sequence[str], min_run: int = 8, max_gap: int = 2) -> list[range]:
    """Split sorted, distinct ``keys`` into spans of positions: each span of two or more is
    a run (same stem and digit count, each number at most ``max_gap`` above the one before,
    at least ``min_run`` long) to be read as the range ``keys[span[0]] … keys[span[-1]]``;
    every other key is a span of its own. The spans cover ``keys`` in order."""
    if min_run < 2 or max_gap < 1:
        raise ValueError(f"key_runs: min_run {min_run} < 2 or max_gap {max_gap} < 1")
    spans: list[range] = []
    start, last_stem, last_width, last_number = 0, "", 0, 0
    for at, key in enumerate(keys):  # inline, no call per key: a wide level has ~10,000
        stem = key.rstrip(_DIGITS)
        width = len(key) - len(stem)
        number = int(key[len(stem) :]) if width else 0
        step = number - last_number
        follows = width == last_width and stem == last_stem and 1 <= step <= max_gap
        if at and not (width and follows):
            spans += _split(start, at, min_run)
            start = at
        last_stem, last_width, last_number = stem, width, number
    if keys:
        spans += _split(start, len(keys), min_run)
    return spans


def _split(start: int, stop: int, min_run: int) -> list[range]:
    if stop - start >= min_run:
        return [range(start, stop)]
    return [range(at, at + 1) for at in range(start, stop)]


__all__ = ["key_runs"]
