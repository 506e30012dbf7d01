"""Benchmark instance files: the job shop (JSPLIB / Taillard text) and the flexible job shop
(Brandimarte text), read into a :class:`~.model.Problem` that minimises the makespan.

Job shop: optional ``#`` comment lines, then ``<jobs> <machines>``, then one line per job of
``<machine> <duration>`` pairs in processing order (machines 0-based).

Flexible job shop: ``<jobs> <machines> [<average machines per operation>]``, then one line
per job: ``<operations>``, then per operation ``<k>`` and ``k`` pairs ``<machine> <duration>``
(machines 0-based, as in the files of the shared data set).
"""

from collections.abc import Iterator
from pathlib import Path

from factoryos.apps.scheduling.errors import InstanceFormatError
from factoryos.apps.scheduling.model import Mode, Operation, Order, Problem


def _numbers(source: str, lineno: int, text: str) -> list[int]:
    values = []
    for tok in text.split():
        if not tok.isascii() or not tok.isdigit():
            what = "a negative number" if tok.startswith("-") else "not a whole number"
            raise InstanceFormatError(source, lineno, f"{tok!r} is {what}")
        values.append(int(tok))
    return values


def _lines(text: str, source: str) -> Iterator[tuple[int, list[int]]]:
    """Non-empty, non-comment lines as (line number, numbers)."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield lineno, _numbers(source, lineno, line)


def _header(rows: list[tuple[int, list[int]]], source: str) -> tuple[int, int, int]:
    if not rows:
        raise InstanceFormatError(source, 1, "empty file: expected '<jobs> <machines>'")
    lineno, head = rows[0]
    if len(head) < 2 or head[0] < 1 or head[1] < 1:
        raise InstanceFormatError(source, lineno, "expected '<jobs> <machines>', both >= 1")
    jobs, machines = head[0], head[1]
    if len(rows) - 1 != jobs:
        last = rows[-1][0]
        raise InstanceFormatError(
            source, last, f"header says {jobs} jobs, the file has {len(rows) - 1} job lines"
        )
    return lineno, jobs, machines


def _machine(source: str, lineno: int, m: int, machines: int) -> str:
    if m >= machines:
        raise InstanceFormatError(source, lineno, f"machine {m} is not below {machines}")
    return f"M{m}"


def _duration(source: str, lineno: int, d: int) -> int:
    if d <= 0:
        raise InstanceFormatError(source, lineno, f"duration {d} is not positive")
    return d


def parse_jsp(text: str, source: str = "<jsp>") -> Problem:
    """A job-shop instance: every operation has one machine."""
    rows = list(_lines(text, source))
    _, _, machines = _header(rows, source)
    orders = []
    for j, (lineno, values) in enumerate(rows[1:]):
        if len(values) % 2 or not values:
            raise InstanceFormatError(source, lineno, "expected '<machine> <duration>' pairs")
        ops = tuple(
            Operation(
                (
                    Mode(
                        _machine(source, lineno, values[k], machines),
                        _duration(source, lineno, values[k + 1]),
                    ),
                )
            )
            for k in range(0, len(values), 2)
        )
        orders.append(Order(f"J{j}", ops))
    return Problem(tuple(f"M{m}" for m in range(machines)), tuple(orders))


def _fjsp_job(source: str, lineno: int, values: list[int], machines: int) -> tuple[Operation, ...]:
    if not values:
        raise InstanceFormatError(source, lineno, "empty job line")
    count, at, ops = values[0], 1, []
    for n in range(count):
        if at >= len(values):
            raise InstanceFormatError(source, lineno, f"operation {n + 1} of {count} is missing")
        k = values[at]
        pairs = values[at + 1 : at + 1 + 2 * k]
        if k < 1 or len(pairs) < 2 * k:
            raise InstanceFormatError(
                source, lineno, f"operation {n + 1}: expected {k} '<machine> <time>' pairs"
            )
        modes = tuple(
            Mode(
                _machine(source, lineno, pairs[i], machines),
                _duration(source, lineno, pairs[i + 1]),
            )
            for i in range(0, 2 * k, 2)
        )
        ops.append(Operation(modes))
        at += 1 + 2 * k
    if at != len(values):
        raise InstanceFormatError(
            source, lineno, f"{len(values) - at} numbers after the last operation"
        )
    return tuple(ops)


def parse_fjsp(text: str, source: str = "<fjsp>") -> Problem:
    """A flexible job-shop instance: an operation may run on any of several machines."""
    rows = list(_lines(text, source))
    _, _, machines = _header(rows, source)
    orders = tuple(
        Order(f"J{j}", _fjsp_job(source, lineno, values, machines))
        for j, (lineno, values) in enumerate(rows[1:])
    )
    used = sorted({m.machine for o in orders for op in o.operations for m in op.modes})
    return Problem(tuple(sorted(used, key=lambda m: int(m[1:]))), orders)


def read_instance(path: Path, flexible: bool) -> Problem:
    """Read an instance file; a format error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstanceFormatError(str(path), 0, f"cannot read: {exc.strerror}") from exc
    return (parse_fjsp if flexible else parse_jsp)(text, str(path))


__all__ = ["parse_fjsp", "parse_jsp", "read_instance"]
