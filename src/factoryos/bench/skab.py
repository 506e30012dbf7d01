"""``factoryos bench skab``: the SKAB outlier-detection benchmark (issue 7).

Protocol, as on the SKAB leaderboard: every data file under the folder (every sub-folder except
``anomaly-free``) is fitted on its first ``N_TRAIN`` rows and scored on the rest; the alarms of
all scored rows are pooled into one confusion matrix, from which F1 = TP / (TP + (FP + FN) / 2),
FAR = 100·FP / (FP + TN) and MAR = 100·FN / (FN + TP). The label is the ``anomaly`` column; the
labels are read only to count, never to fit or to set a threshold. The detector, its features and
its threshold rule are fixed in ``factoryos.apps.maintenance.detectors`` (see
docs/research/skab-study-2.md); an alarm is the persistence-filtered score > 1.
"""

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from factoryos.apps.maintenance.detectors import (
    FAMILIES,
    DetectorError,
    FittedDetector,
    Persistence,
    fit_detector,
    select_detector,
)
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar

N_TRAIN = 400
SIGNALS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
FREE_FOLDER = "anomaly-free"
DEFAULT_FAMILY = "pca"
TARGET_F1, TARGET_RATE = 0.78, 25.0
# the point label; early SKAB releases (e.g. valve2 in some commits) call it is_anomaly
LABEL_COLUMNS = ("anomaly", "is_anomaly")
AUTO = "auto"


@dataclass(frozen=True)
class SkabFile:
    """One SKAB recording: its path relative to the data folder, signals (rows in time order)
    and point labels (None for the anomaly-free recording, which has no label column)."""

    name: str
    raw: NDArray[np.float64]
    anomaly: NDArray[np.bool_] | None


def _float(text: str, path: Path, line: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BenchError(f"{path}:{line}: column {column!r}: {text!r} is not a number") from None


def read_skab_csv(path: Path, *, labelled: bool = True) -> SkabFile:
    """Read one SKAB CSV (``;``-separated, header row, ``datetime`` first), sorted by time."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # tolerate a BOM
            rows = list(csv.reader(handle, delimiter=";"))
    except OSError as exc:
        raise BenchError(f"{path}: cannot read: {exc.strerror}") from None
    if not rows:
        raise BenchError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    label = next((name for name in LABEL_COLUMNS if name in header), LABEL_COLUMNS[0])
    wanted = ["datetime", *SIGNALS, *([label] if labelled else [])]
    missing = [w for w in wanted if w not in header]
    if missing:
        raise BenchError(f"{path}:1: missing column(s) {', '.join(missing)}")
    idx = [header.index(w) for w in wanted]
    stamps: list[str] = []
    values: list[list[float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < len(header):
            raise BenchError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        stamps.append(row[idx[0]])
        pairs = zip(idx[1:], wanted[1:], strict=True)
        values.append([_float(row[i], path, line, name) for i, name in pairs])
    if not values:
        raise BenchError(f"{path}: no data rows")
    order = np.argsort(np.array(stamps), kind="stable")  # ISO stamps sort as text
    table = np.asarray(values, dtype=np.float64)[order]
    raw = np.ascontiguousarray(table[:, : len(SIGNALS)])
    anomaly = table[:, len(SIGNALS)] > 0.5 if labelled else None
    return SkabFile(path.name, raw, anomaly)


def find_skab_files(data: Path) -> list[Path]:
    """Every ``*.csv`` under ``data`` outside the anomaly-free folder, in a stable order."""
    if not data.is_dir():
        raise BenchError(f"{data}: not a folder")
    files = sorted(p for p in data.rglob("*.csv") if FREE_FOLDER not in p.relative_to(data).parts)
    if not files:
        raise BenchError(f"{data}: no SKAB data files (*.csv outside {FREE_FOLDER}/)")
    return files


def load_skab(data: Path) -> list[SkabFile]:
    """All labelled files under ``data``, each named by its path relative to ``data``."""
    out = []
    for path in find_skab_files(data):
        f = read_skab_csv(path)
        out.append(SkabFile(path.relative_to(data).as_posix(), f.raw, f.anomaly))
    return out


def counts(truth: NDArray[np.bool_], alarm: NDArray[np.bool_]) -> dict[str, int]:
    """Confusion counts of one file's scored rows."""
    return {
        "tp": int(np.sum(truth & alarm)),
        "fp": int(np.sum(~truth & alarm)),
        "tn": int(np.sum(~truth & ~alarm)),
        "fn": int(np.sum(truth & ~alarm)),
    }


def pooled_metrics(total: dict[str, int]) -> dict[str, float]:
    """F1, FAR % and MAR % of pooled counts, as tsad ``chp_score(metric='binary')``."""
    tp, fp, tn, fn = total["tp"], total["fp"], total["tn"], total["fn"]
    nan = float("nan")
    return {
        "f1": tp / (tp + (fp + fn) / 2) if tp + fp + fn else nan,
        "far": 100.0 * fp / (fp + tn) if fp + tn else nan,
        "mar": 100.0 * fn / (fn + tp) if fn + tp else nan,
    }


def target_met(scores: dict[str, float]) -> bool:
    """Issue 7's target: F1 above 0.78 with FAR and MAR both below 25 %."""
    return scores["f1"] > TARGET_F1 and scores["far"] < TARGET_RATE and scores["mar"] < TARGET_RATE


def alarms_for(detector: FittedDetector, raw: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Persistence-filtered alarms for every row from ``N_TRAIN`` on.

    The scorer sees the rows before ``N_TRAIN`` as history (its window), never as scored rows;
    a NaN score (a gap) raises no alarm and does not count towards either persistence run."""
    start = N_TRAIN - detector.window + 1
    score = detector.score(raw[start:])
    return Persistence(detector.persistence_k).run(score)


def _fit(family: str, train: NDArray[np.float64]) -> tuple[FittedDetector, str]:
    if family == AUTO:
        detector, report = select_detector(train, SIGNALS)
        return detector, str(report["chosen"])
    return fit_detector(family, train, SIGNALS), family


def run_skab(data: Path, *, family: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Fit on each file's first ``N_TRAIN`` rows, score the rest, pool the counts.

    ``family`` None is `DEFAULT_FAMILY` (the rule study 2 fixed before scoring); ``"auto"``
    chooses the family per file with `select_detector` on that file's training rows only."""
    chosen_family = DEFAULT_FAMILY if family is None else family
    if chosen_family not in (*FAMILIES, AUTO):
        raise BenchError(f"unknown detector family {family!r}; known: {', '.join(FAMILIES)}, auto")
    files = load_skab(data)
    total = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    per_file: list[dict[str, Any]] = []
    fit_s = score_s = 0.0
    with progress_bar(progress) as bar:
        task = bar.add_task("SKAB files", total=len(files)) if bar else None
        for f in files:
            assert f.anomaly is not None  # load_skab reads labelled files only
            if f.raw.shape[0] <= N_TRAIN:
                raise BenchError(f"{f.name}: {f.raw.shape[0]} rows, needs more than {N_TRAIN}")
            t0 = time.perf_counter()
            try:
                detector, chosen = _fit(chosen_family, f.raw[:N_TRAIN])
            except DetectorError as exc:
                raise BenchError(f"{f.name}: {exc}") from exc
            t1 = time.perf_counter()
            alarm = alarms_for(detector, f.raw)
            t2 = time.perf_counter()
            fit_s += t1 - t0
            score_s += t2 - t1
            c = counts(f.anomaly[N_TRAIN:], alarm)
            for key, value in c.items():
                total[key] += value
            per_file.append({"file": f.name, "rows": int(alarm.size), "detector": chosen, **c})
            if bar is not None and task is not None:
                bar.advance(task)
    chosen_all = sorted({str(p["detector"]) for p in per_file})
    scores = pooled_metrics(total)
    return {
        **scores,
        "target_met": target_met(scores),
        **total,
        "rows": sum(int(p["rows"]) for p in per_file),
        "files": len(per_file),
        "detector": chosen_all[0] if len(chosen_all) == 1 else "per-file: " + ",".join(chosen_all),
        "per_file": per_file,
        "fit_s": fit_s,
        "score_s": score_s,
    }


def format_skab_table(result: dict[str, Any]) -> Table:
    """The result of `run_skab` as a Rich table (per-file rows are in the JSON output)."""
    table = Table(title="factoryos bench skab")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("F1", f"{result['f1']:.3f}")
    table.add_row("FAR (false alarm rate)", f"{result['far']:.1f} %")
    table.add_row("MAR (missed alarm rate)", f"{result['mar']:.1f} %")
    verdict = "met" if result["target_met"] else "not met"
    table.add_row("target F1 > 0.78, FAR < 25 %, MAR < 25 %", verdict)
    table.add_row("scored rows / files", f"{result['rows']:,} / {result['files']}")
    table.add_row("detector", str(result["detector"]))
    table.add_row("fit / score time", f"{result['fit_s']:.2f} s / {result['score_s']:.2f} s")
    return table
