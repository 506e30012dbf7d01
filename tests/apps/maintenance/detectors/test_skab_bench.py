"""The SKAB bench on real files: reading, pooled metrics, and a small fit/score run."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.maintenance.detectors import Persistence, fit_detector
from factoryos.bench.errors import BenchError
from factoryos.bench.skab import (
    N_TRAIN,
    SIGNALS,
    SkabFile,
    format_skab_table,
    pooled_metrics,
    read_skab_csv,
    run_skab,
)

SKAB = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "skab"


def test_a_skab_file_reads_as_its_source_says(valve_run: SkabFile) -> None:
    assert valve_run.raw.shape == (1140, 8)
    assert valve_run.anomaly is not None and valve_run.anomaly.sum() == 399
    assert valve_run.raw[0, 0] == pytest.approx(0.028034)  # first data line of valve1/13.csv
    assert valve_run.raw[0, 7] == pytest.approx(32.0268)


def test_the_early_label_name_is_read_too(tmp_path: Path, valve_run: SkabFile) -> None:
    lines = (SKAB / "valve1" / "13.csv").read_text().splitlines()
    lines[0] = lines[0].replace(";anomaly;changepoint", ";is_anomaly;is_pa")
    old = tmp_path / "13.csv"
    old.write_text("\n".join(lines))
    again = read_skab_csv(old)
    assert again.anomaly is not None and valve_run.anomaly is not None
    assert np.array_equal(again.anomaly, valve_run.anomaly)
    assert np.array_equal(again.raw, valve_run.raw)


def test_pca_on_a_real_run_finds_the_valve_closing(valve_run: SkabFile) -> None:
    det = fit_detector("pca", valve_run.raw[:N_TRAIN], SIGNALS)
    score = det.score(valve_run.raw[N_TRAIN - det.window + 1 :])
    alarm = Persistence(det.persistence_k).run(score)
    truth = valve_run.anomaly[N_TRAIN:]
    assert alarm.size == truth.size
    # valve1/13 is one of the clear runs (measured: 85 % of anomalous rows, no false alarm)
    assert alarm[truth].mean() > 0.8 and alarm[~truth].mean() < 0.05
    # the flow rate is what a closing inlet valve moves first
    top = det.explain(valve_run.raw[N_TRAIN - det.window + 1 :])[alarm & truth].mean(axis=0)
    assert SIGNALS[int(top.argmax())] == "Volume Flow RateRMS"


def test_pooled_metrics_follow_the_leaderboard_formulas() -> None:
    m = pooled_metrics({"tp": 60, "fp": 10, "tn": 90, "fn": 40})
    assert m == {"f1": pytest.approx(60 / 85), "far": pytest.approx(10.0), "mar": 40.0}


def test_run_skab_pools_every_file_but_anomaly_free(tmp_path: Path) -> None:
    for rel in ("valve1/0.csv", "other/9.csv", "anomaly-free/anomaly-free.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SKAB / rel, tmp_path / rel)
    result = run_skab(tmp_path, progress=False)
    assert result["files"] == 2 and result["detector"] == "pca"
    assert [p["file"] for p in result["per_file"]] == ["other/9.csv", "valve1/0.csv"]
    total = sum(result[k] for k in ("tp", "fp", "tn", "fn"))
    assert total == result["rows"] == sum(p["rows"] for p in result["per_file"])
    assert result["target_met"] == (
        result["f1"] > 0.78 and result["far"] < 25 and result["mar"] < 25
    )
    assert 0.5 < result["f1"] <= 1 and 0 <= result["far"] < 50 and 0 <= result["mar"] < 50
    table = format_skab_table(result)
    assert table.row_count == 7
    auto = run_skab(tmp_path, family="auto", progress=False)
    assert {p["detector"] for p in auto["per_file"]} <= {"pca", "gmm", "autoencoder"}


def test_bad_input_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no SKAB data files"):
        run_skab(tmp_path, progress=False)
    bad = tmp_path / "x" / "1.csv"
    bad.parent.mkdir()
    lines = (SKAB / "valve1" / "0.csv").read_text().splitlines()
    lines[3] = lines[3].replace(";", ";oops", 1)
    bad.write_text("\n".join(lines))
    with pytest.raises(BenchError, match=r"1\.csv:4: column 'Accelerometer1RMS'"):
        read_skab_csv(bad)
    short = tmp_path / "y" / "2.csv"
    short.parent.mkdir()
    short.write_text("\n".join((SKAB / "valve1" / "0.csv").read_text().splitlines()[:300]))
    bad.unlink()
    with pytest.raises(BenchError, match="299 rows, needs more than 400"):
        run_skab(tmp_path, progress=False)
    with pytest.raises(BenchError, match="unknown detector family 'svm'"):
        run_skab(tmp_path, family="svm", progress=False)


def test_gaps_in_a_scored_run_raise_no_alarm_of_their_own(valve_run: SkabFile) -> None:
    raw = valve_run.raw.copy()
    raw[450:470] = np.nan
    det = fit_detector("pca", raw[:N_TRAIN], SIGNALS)
    score = det.score(raw[N_TRAIN - det.window + 1 :])
    assert np.isnan(score[50 : 70 + det.window - 1]).all()
    assert np.isfinite(score[:50]).all()
