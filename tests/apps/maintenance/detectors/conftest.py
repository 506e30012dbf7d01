"""Shared data for the detector tests: a real SKAB run and its signals."""

from pathlib import Path

import numpy as np
import pytest

from factoryos.bench.skab import SIGNALS, SkabFile, read_skab_csv

SKAB = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "skab"


@pytest.fixture(scope="session")
def valve_run() -> SkabFile:
    return read_skab_csv(SKAB / "valve1" / "13.csv")


@pytest.fixture(scope="session")
def free_rows() -> np.ndarray:
    """The first 1,150 rows of SKAB anomaly-free (normal operation)."""
    return read_skab_csv(SKAB / "anomaly-free" / "anomaly-free.csv", labelled=False).raw[:1150]


@pytest.fixture(scope="session")
def signals() -> tuple[str, ...]:
    return SIGNALS
