"""The C-MAPSS harness on a cut-down copy of FD001 (the full run is the benchmark, minutes
long): the protocol's figures under the keys the issue names, a table, and a missing file
named. The numbers of a run this small say nothing about the method; the shape does."""

import gzip
import json
from pathlib import Path

import pytest
from rich.console import Console

from factoryos.apps.maintenance.rul.model import RulConfig
from factoryos.bench.cmapss import format_cmapss_table, run_cmapss
from factoryos.bench.errors import BenchError

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cmapss"
TRAIN_UNITS, TEST_UNITS = 8, 4
QUICK = RulConfig(rounds=60, seeds=1, folds=3)  # the harness is under test, not the model


def _units(lines: list[str], count: int) -> list[str]:
    return [line for line in lines if line.strip() and int(line.split()[0]) <= count]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    with gzip.open(DATA / "train_FD001.txt.gz", "rt") as f:
        (tmp_path / "train_FD001.txt").write_text("\n".join(_units(f.readlines(), TRAIN_UNITS)))
    with gzip.open(DATA / "test_FD001.txt.gz", "rt") as f:
        (tmp_path / "test_FD001.txt").write_text("\n".join(_units(f.readlines(), TEST_UNITS)))
    rul = (DATA / "RUL_FD001.txt").read_text().split()[:TEST_UNITS]
    (tmp_path / "RUL_FD001.txt").write_text("\n".join(rul) + "\n")
    return tmp_path


def test_the_protocol_reports_rmse_score_and_training_time(small: Path) -> None:
    result = run_cmapss(small, "FD001", progress=False, config=QUICK)
    assert (result["train_units"], result["test_units"]) == (TRAIN_UNITS, TEST_UNITS)
    assert result["rmse"] > 0 and result["score"] > 0 and result["train_s"] > 0
    assert 0 <= result["coverage"] <= 1 and result["coverage_nominal"] == pytest.approx(0.8)
    json.loads(json.dumps(result))  # the --json answer
    console = Console(record=True, width=120)
    console.print(format_cmapss_table(result))
    assert "RMSE (cycles)" in console.export_text()


def test_a_missing_file_is_named(small: Path) -> None:
    (small / "RUL_FD001.txt").unlink()
    with pytest.raises(BenchError, match="RUL_FD001"):
        run_cmapss(small, "FD001", progress=False)
