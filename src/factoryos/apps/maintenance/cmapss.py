"""NASA C-MAPSS turbofan run-to-failure data: reading the files and the standard protocol.

A subset ``FD00X`` is three files in one folder, each ``.txt`` or ``.txt.gz``:
``train_FD00X`` (every unit run to failure), ``test_FD00X`` (every unit cut off some cycles
before failure) and ``RUL_FD00X`` (the true remaining cycles of each test unit at its cut).
Rows are space-separated: unit, cycle, three operational settings, 21 sensors.

The protocol (Saxena et al., PHM08; the one published results use): train on
``train``, with the target RUL of each row = cycles to the unit's last cycle, capped at
:data:`RUL_CAP`; evaluate on the last cycle of each test unit against ``RUL``; report RMSE
and the PHM08 score, which punishes late predictions more than early ones.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from factoryos.apps.maintenance.errors import DatasetError

COLUMNS = 26
SETTINGS = 3
SENSORS = 21
RUL_CAP = 125
MAX_ROWS = 2_000_000  # C-MAPSS's largest file has 61,249 rows: far more is not this data

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Runs:
    """Rows of several units' runs, in file order: ``unit``, ``cycle``, ``settings`` (n×3),
    ``sensors`` (n×21)."""

    unit: I64
    cycle: I64
    settings: F64
    sensors: F64

    def last_rows(self) -> npt.NDArray[np.intp]:
        """Index of each unit's last row, in order of first appearance."""
        ends = np.flatnonzero(np.append(self.unit[1:] != self.unit[:-1], True))
        return ends

    def rul_targets(self, cap: int = RUL_CAP) -> F64:
        """Cycles left to each row's unit's last cycle, capped at ``cap`` (run-to-failure)."""
        last = np.zeros(self.unit.size, dtype=np.int64)
        for end in self.last_rows().tolist():
            last[self.unit == self.unit[end]] = self.cycle[end]
        capped: F64 = np.minimum(last - self.cycle, cap).astype(np.float64)
        return capped


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    train: Runs
    test: Runs
    test_rul: F64  # true RUL at each test unit's last row, in unit order


def _open(folder: Path, stem: str) -> tuple[Path, list[str]]:
    for suffix in (".txt", ".txt.gz"):
        path = folder / f"{stem}{suffix}"
        if path.exists():
            try:
                if suffix == ".txt.gz":
                    with gzip.open(path, "rt", encoding="ascii") as text:
                        return path, text.read().splitlines()
                return path, path.read_text(encoding="ascii").splitlines()
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                raise DatasetError(f"{path}: cannot read: {exc}") from exc
    raise DatasetError(f"{folder}: no {stem}.txt or {stem}.txt.gz")


def _numbers(path: Path, lines: list[str], width: int) -> F64:
    if len(lines) > MAX_ROWS:
        raise DatasetError(f"{path}: {len(lines)} rows, more than {MAX_ROWS}")
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != width:
            raise DatasetError(f"{path}:{number}: {len(fields)} columns, expected {width}")
        try:
            row = [float(f) for f in fields]
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: not a number ({exc})") from exc
        if not np.all(np.isfinite(row)):
            raise DatasetError(f"{path}:{number}: NaN or infinite value")
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return np.array(rows, dtype=np.float64)


def _runs(path: Path, table: F64) -> Runs:
    unit, cycle = table[:, 0], table[:, 1]
    if np.any(unit != np.round(unit)) or np.any(cycle != np.round(cycle)) or np.any(cycle < 1):
        raise DatasetError(f"{path}: unit and cycle must be whole numbers, cycles from 1")
    u, c = unit.astype(np.int64), cycle.astype(np.int64)
    same = u[1:] == u[:-1]
    bad = np.flatnonzero(same & (c[1:] != c[:-1] + 1))
    if bad.size:
        line = int(bad[0]) + 2
        raise DatasetError(f"{path}:{line}: cycle {c[bad[0] + 1]} does not follow {c[bad[0]]}")
    if np.unique(u).size != np.count_nonzero(~same) + 1:
        raise DatasetError(f"{path}: a unit's rows are not together")
    return Runs(u, c, table[:, 2 : 2 + SETTINGS], table[:, 2 + SETTINGS :])


def load_subset(folder: Path | str, name: str) -> Subset:
    """Read subset ``name`` (``FD001`` …) from ``folder``; every problem names file and line."""
    if name not in {f"FD00{k}" for k in range(1, 5)}:
        raise DatasetError(f"subset {name!r}: one of FD001, FD002, FD003, FD004")
    where = Path(folder)
    runs = []
    for stem in (f"train_{name}", f"test_{name}"):
        path, lines = _open(where, stem)
        runs.append(_runs(path, _numbers(path, lines, COLUMNS)))
    path, lines = _open(where, f"RUL_{name}")
    rul = _numbers(path, lines, 1)[:, 0]
    units = runs[1].last_rows().size
    if rul.size != units:
        raise DatasetError(f"{path}: {rul.size} values for {units} test units")
    if np.any(rul < 0):
        raise DatasetError(f"{path}: a negative remaining useful life")
    return Subset(name, runs[0], runs[1], rul)


def rmse(predicted: F64, true: F64) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(true)) ** 2)))


def phm08_score(predicted: F64, true: F64) -> float:
    """Σ exp(−d/13) − 1 over early predictions (d < 0) and exp(d/10) − 1 over late ones,
    d = predicted − true: a late warning costs more than an early one."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0), np.exp(d / 10.0)) - 1.0))
