"""C-MAPSS files: the shared copy reads as its SOURCE.md says; bad files name file and line."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.maintenance.cmapss import RUL_CAP, load_subset, phm08_score, rmse
from factoryos.apps.maintenance.errors import DatasetError

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "cmapss"


def test_the_shared_subsets_read_as_documented() -> None:
    for name, train_rows, test_rows in (("FD001", 20631, 13096), ("FD003", 24720, 16596)):
        s = load_subset(DATA, name)
        assert s.train.unit.size == train_rows and s.test.unit.size == test_rows
        assert s.train.sensors.shape == (train_rows, 21) and s.train.settings.shape[1] == 3
        assert s.test.last_rows().size == 100 == s.test_rul.size
    first = load_subset(DATA, "FD001")
    assert first.test_rul[:3].tolist() == [112, 98, 69]  # RUL_FD001.txt, first lines


def test_rul_targets_count_down_to_the_last_cycle_capped() -> None:
    s = load_subset(DATA, "FD001")
    targets = s.train.rul_targets()
    last = s.train.last_rows()
    assert np.all(targets[last] == 0)
    assert targets.max() == RUL_CAP
    unit1 = s.train.unit == 1  # 192 cycles: 191 at the first row, capped
    assert targets[unit1][0] == RUL_CAP and targets[unit1][-2] == 1


def test_scores_by_hand() -> None:
    # d = -13 (early) and +10 (late): (e - 1) + (e - 1)
    assert phm08_score(np.array([87.0, 110.0]), np.array([100.0, 100.0])) == pytest.approx(
        2 * (np.e - 1)
    )
    assert rmse(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(np.sqrt(2))


def _write(folder: Path, name: str, text: str, gz: bool = False) -> None:
    if gz:
        with gzip.open(folder / f"{name}.txt.gz", "wt") as out:
            out.write(text)
    else:
        (folder / f"{name}.txt").write_text(text)


ROW = "1 {c} 0.0 0.0 100.0 " + " ".join(["1.0"] * 21) + "  \n"


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (ROW.format(c=1) + "1 2 0.0\n", r"train_FD002.txt:2: 3 columns, expected 26"),
        (
            ROW.format(c=1) + ROW.format(c=2).replace("100.0", "abc"),
            r"train_FD002.txt:2: not a number",
        ),
        (ROW.format(c=1) + ROW.format(c=3), r"train_FD002.txt:2: cycle 3 does not follow 1"),
        (ROW.format(c=1) + ROW.format(c=2).replace("100.0", "nan"), r":2: NaN"),
        ("", "no rows"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, train: str, message: str) -> None:
    _write(tmp_path, "train_FD002", train)
    _write(tmp_path, "test_FD002", ROW.format(c=1), gz=True)
    _write(tmp_path, "RUL_FD002", "5\n")
    with pytest.raises(DatasetError, match=message):
        load_subset(tmp_path, "FD002")


def test_missing_files_and_subsets_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no train_FD001\.txt or train_FD001\.txt\.gz"):
        load_subset(tmp_path, "FD001")
    with pytest.raises(DatasetError, match="one of FD001"):
        load_subset(tmp_path, "FD009")
    _write(tmp_path, "train_FD002", ROW.format(c=1))
    _write(tmp_path, "test_FD002", ROW.format(c=1))
    _write(tmp_path, "RUL_FD002", "5\n6\n")
    with pytest.raises(DatasetError, match="2 values for 1 test units"):
        load_subset(tmp_path, "FD002")
