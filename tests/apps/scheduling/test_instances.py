"""Benchmark instance files: JSPLIB job shops and Brandimarte flexible job shops, and the
format errors that name the offending line."""

from pathlib import Path

import pytest

from factoryos.apps.scheduling.errors import InstanceFormatError
from factoryos.apps.scheduling.instances import parse_fjsp, parse_jsp, read_instance
from factoryos.apps.scheduling.model import Mode, Objective

DATASETS = Path("/work/shared/datasets")
FT06 = DATASETS / "jsplib" / "instances" / "ft06"
MK01 = DATASETS / "fjsp_brandimarte" / "instances" / "mk01.txt"

needs_ft06 = pytest.mark.skipif(not FT06.exists(), reason="shared JSPLIB data set not present")
needs_mk01 = pytest.mark.skipif(not MK01.exists(), reason="shared Brandimarte data not present")


@needs_ft06
def test_ft06_is_six_jobs_on_six_machines() -> None:
    p = read_instance(FT06, flexible=False)
    assert p.machines == tuple(f"M{m}" for m in range(6))
    assert [o.id for o in p.orders] == [f"J{j}" for j in range(6)]
    assert all(len(o.operations) == 6 for o in p.orders)
    # every job visits every machine exactly once
    for o in p.orders:
        assert sorted(op.modes[0].machine for op in o.operations) == list(p.machines)
    assert p.goal.terms == ((Objective.MAKESPAN, 1),)


@needs_ft06
def test_ft06_first_and_last_jobs_read_pair_by_pair() -> None:
    p = read_instance(FT06, flexible=False)
    # line "2 1 0 3 1 6 3 7 5 3 4 6" of the file, 0-based machines
    first = [(op.modes[0].machine, op.modes[0].run) for op in p.orders[0].operations]
    assert first == [("M2", 1), ("M0", 3), ("M1", 6), ("M3", 7), ("M5", 3), ("M4", 6)]
    # line "1 3 3 3 5 9 0 10 4 4 2 1"
    last = [(op.modes[0].machine, op.modes[0].run) for op in p.orders[5].operations]
    assert last == [("M1", 3), ("M3", 3), ("M5", 9), ("M0", 10), ("M4", 4), ("M2", 1)]
    # benchmark operations: one machine each, no setups
    assert all(len(op.modes) == 1 and op.modes[0].setup == 0 for _, _, op in p.operations())


@needs_ft06
def test_ft06_total_work() -> None:
    p = read_instance(FT06, flexible=False)
    # job sums from the file: 26, 47, 34, 35, 25, 30 (e.g. job 0: 1+3+6+7+3+6 = 26)
    sums = [sum(op.modes[0].run for op in o.operations) for o in p.orders]
    assert sums == [26, 47, 34, 35, 25, 30]


@needs_mk01
def test_mk01_is_ten_flexible_jobs() -> None:
    p = read_instance(MK01, flexible=True)
    assert len(p.orders) == 10
    assert p.machines == tuple(f"M{m}" for m in range(6))
    assert sum(len(o.operations) for o in p.orders) == 55  # SOURCE.md: 55 operations
    # first line "6 | 2 0 5 2 4 | 3 4 3 2 5 1 1 | 2 2 4 5 2 | 3 5 5 1 6 0 1 | 1 2 1 | 3 5 6 2 6 3 3"
    j0 = p.orders[0].operations
    assert len(j0) == 6
    assert j0[0].modes == (Mode("M0", 5), Mode("M2", 4))
    assert j0[1].modes == (Mode("M4", 3), Mode("M2", 5), Mode("M1", 1))
    assert j0[2].modes == (Mode("M2", 4), Mode("M5", 2))
    assert j0[3].modes == (Mode("M5", 5), Mode("M1", 6), Mode("M0", 1))
    assert j0[4].modes == (Mode("M2", 1),)
    assert j0[5].modes == (Mode("M5", 6), Mode("M2", 6), Mode("M3", 3))


def test_comments_and_blank_lines_are_skipped() -> None:
    text = "# a comment\n\n2 2   # jobs machines\n0 3 1 4\n\n1 2 0 5 # trailing\n"
    p = parse_jsp(text)
    assert [[(op.modes[0].machine, op.modes[0].run) for op in o.operations] for o in p.orders] == [
        [("M0", 3), ("M1", 4)],
        [("M1", 2), ("M0", 5)],
    ]


def test_fjsp_header_may_carry_the_average_flexibility() -> None:
    # "1 2 1.5"-style headers are not in the data set, but "<jobs> <machines> <avg>" is
    p = parse_fjsp("1 2 2\n1 2 0 3 1 4\n")
    assert p.orders[0].operations[0].modes == (Mode("M0", 3), Mode("M1", 4))


def test_fjsp_machines_are_those_used_sorted_numerically() -> None:
    # machines 10 and 2 used out of 12: sorted as numbers, not as text ("M10" < "M2")
    p = parse_fjsp("1 12\n2 1 10 3 1 2 4\n")
    assert p.machines == ("M2", "M10")


def _error(text: str, flexible: bool = False) -> InstanceFormatError:
    with pytest.raises(InstanceFormatError) as info:
        (parse_fjsp if flexible else parse_jsp)(text, "inst.txt")
    return info.value


def test_wrong_pair_count_names_the_line() -> None:
    # line 1 comment, line 2 header, line 3 fine, line 4 has 3 numbers
    err = _error("# c\n2 2\n0 1 1 2\n0 1 1\n")
    assert err.line == 4
    assert err.source == "inst.txt"
    assert "pairs" in str(err)
    assert str(err).startswith("inst.txt:4:")


def test_non_number_token_names_the_line_and_token() -> None:
    err = _error("2 2\n0 1 1 2\n0 x 1 2\n")
    assert err.line == 3
    assert "'x'" in str(err)


def test_decimal_token_is_not_a_whole_number() -> None:
    err = _error("1 1\n0 2.5\n")
    assert err.line == 2
    assert "'2.5'" in str(err)


def test_negative_number_is_rejected() -> None:
    err = _error("1 1\n0 -3\n")
    assert err.line == 2
    assert "negative" in str(err)


def test_machine_out_of_range_names_the_line() -> None:
    err = _error("2 2\n0 1 1 2\n0 1 2 3\n")  # machine 2 of 2 machines (0-based)
    assert err.line == 3
    assert "machine 2" in str(err)


def test_fjsp_machine_out_of_range() -> None:
    err = _error("1 2\n1 2 0 3 2 4\n", flexible=True)
    assert err.line == 2
    assert "machine 2" in str(err)


def test_header_job_count_too_high() -> None:
    # header says 3 jobs, only lines 2 and 3 follow: the last line read is named
    err = _error("3 2\n0 1 1 1\n0 1 1 1\n")
    assert err.line == 3
    assert "3 jobs" in str(err) and "2 job lines" in str(err)


def test_header_job_count_too_low() -> None:
    err = _error("1 2\n0 1 1 1\n0 1 1 1\n")
    assert err.line == 3
    assert "1 jobs" in str(err) and "2 job lines" in str(err)


def test_bad_header() -> None:
    assert _error("# only\n0 2\n").line == 2  # zero jobs
    assert _error("5\n").line == 1  # one number only


def test_empty_file() -> None:
    err = _error("# nothing here\n\n")
    assert err.line == 1
    assert "empty" in str(err)


def test_zero_duration_names_the_line() -> None:
    err = _error("2 2\n0 1 1 2\n0 0 1 2\n")
    assert err.line == 3
    assert "duration 0" in str(err)


def test_fjsp_zero_duration() -> None:
    err = _error("1 2\n1 2 0 3 1 0\n", flexible=True)
    assert err.line == 2
    assert "duration 0" in str(err)


def test_fjsp_operation_with_missing_pairs() -> None:
    # job line: 2 operations; op 1 has k=1 pair (0,5); op 2 says k=2 but only (1,3) follows
    err = _error("1 2\n2 1 0 5 2 1 3\n", flexible=True)
    assert err.line == 2
    assert "operation 2" in str(err) and "2 '<machine> <time>' pairs" in str(err)


def test_fjsp_missing_operation() -> None:
    err = _error("2 2\n1 1 0 5\n2 1 0 5\n", flexible=True)  # second job announces 2 ops, has 1
    assert err.line == 3
    assert "operation 2 of 2 is missing" in str(err)


def test_fjsp_operation_with_zero_machines() -> None:
    err = _error("1 2\n1 0\n", flexible=True)
    assert err.line == 2


def test_fjsp_numbers_after_the_last_operation() -> None:
    err = _error("1 2\n1 1 0 5 7 7\n", flexible=True)
    assert err.line == 2
    assert "2 numbers after the last operation" in str(err)


def test_read_instance_of_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(InstanceFormatError) as info:
        read_instance(missing, flexible=False)
    assert info.value.source == str(missing)
    assert info.value.line == 0


def test_read_instance_reports_the_path_as_source(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("1 1\n0 0\n", encoding="utf-8")
    with pytest.raises(InstanceFormatError) as info:
        read_instance(f, flexible=False)
    assert info.value.source == str(f)
    assert info.value.line == 2


def test_superscript_digit_is_a_format_error() -> None:
    err = _error("1 1\n0 ²\n")
    assert err.line == 2
