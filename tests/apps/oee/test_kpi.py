"""ISO 22400-2 KPIs on a hand-computed shift, each undefined case and each bad input."""

import math

import pytest

from factoryos.apps.oee.errors import (
    ImplausibleKpiError,
    InvalidInputError,
    MissingIdealCycleTimeError,
)
from factoryos.apps.oee.kpi import (
    PeriodInput,
    ProductOutput,
    availability,
    effectiveness,
    mtbf,
    mttr,
    oee_index,
    quality_ratio,
    report,
    rework_ratio,
    scrap_ratio,
    setup_ratio,
    technical_efficiency,
)
from factoryos.apps.oee.taxonomy import (
    BREAKS_PLANNED,
    ISO22400,
    TEEP,
    PerformanceMethod,
)
from factoryos.apps.oee.taxonomy import (
    TimeCategory as C,
)

# One 8 h shift (28 800 s):
#   break 1 800 + planned downtime 1 200 + setup 1 800 + unplanned down 2 400 (2 failures)
#   + idle 600 + micro-stops 600 + producing 20 400 = 28 800
SHIFT = {
    C.BREAK: 1_800.0,
    C.PLANNED_DOWNTIME: 1_200.0,
    C.SETUP: 1_800.0,
    C.UNPLANNED_DOWN: 2_400.0,
    C.IDLE: 600.0,
    C.MICRO_STOP: 600.0,
    C.PRODUCING: 20_400.0,
}
# A: 600 made at 20 s ideal, 570 good, 20 scrap, 10 rework
# B: 300 made at 25 s ideal, 290 good, 10 scrap
PRODUCTS = (
    ProductOutput("A", produced=600, good=570, scrap=20, rework=10, ideal_cycle_s=20.0),
    ProductOutput("B", produced=300, good=290, scrap=10, ideal_cycle_s=25.0),
)
PERIOD = PeriodInput("press-1", SHIFT, PRODUCTS, failures=2, calendar_s=28_800.0)


def test_iso22400_hand_computed() -> None:
    # PBT = 28 800 − break 1 800 − planned downtime 1 200 = 25 800
    # APT = producing 20 400 + micro-stops 600 = 21 000
    assert availability(PERIOD).value == pytest.approx(21_000 / 25_800)
    # Σ PQ × PRI = 600 × 20 + 300 × 25 = 19 500
    assert effectiveness(PERIOD).value == pytest.approx(19_500 / 21_000)
    # GQ = 570 + 290 = 860, PQ = 900
    assert quality_ratio(PERIOD).value == pytest.approx(860 / 900)
    # OEE = 19 500 / 25 800 × 860 / 900 = 13 / 18
    assert oee_index(PERIOD).value == pytest.approx(13 / 18)
    # TE = APT / (APT + ADET) = 21 000 / 23 400
    assert technical_efficiency(PERIOD).value == pytest.approx(21_000 / 23_400)
    # SeR = AUST / (APT + AUST) = 1 800 / 22 800
    assert setup_ratio(PERIOD).value == pytest.approx(1_800 / 22_800)
    assert scrap_ratio(PERIOD).value == pytest.approx(30 / 900)
    assert rework_ratio(PERIOD).value == pytest.approx(10 / 900)
    assert mtbf(PERIOD).value == pytest.approx(21_000 / 2)
    assert mttr(PERIOD).value == pytest.approx(2_400 / 2)


def test_teep_counts_all_calendar_time_as_planned() -> None:
    # PBT = the whole 28 800 s
    assert availability(PERIOD, TEEP).value == pytest.approx(21_000 / 28_800)
    assert oee_index(PERIOD, TEEP).value == pytest.approx(19_500 / 28_800 * 860 / 900)


def test_breaks_planned_makes_a_break_an_availability_loss() -> None:
    # PBT = 28 800 − planned downtime 1 200 = 27 600
    assert availability(PERIOD, BREAKS_PLANNED).value == pytest.approx(21_000 / 27_600)


def test_time_based_performance_ignores_cycle_times() -> None:
    taxonomy = ISO22400.model_copy(update={"performance": PerformanceMethod.TIME})
    no_cycle = PeriodInput("press-1", SHIFT, (ProductOutput("A", 10, 9),))
    # E = producing 20 400 / APT 21 000
    assert effectiveness(no_cycle, taxonomy).value == pytest.approx(20_400 / 21_000)


def test_report_holds_every_kpi() -> None:
    result = report(PERIOD)
    assert result.taxonomy == "iso22400"
    assert result.times.pbt == 25_800 and result.times.aupt == 22_800
    assert result.values["oee_index"].value == pytest.approx(13 / 18)
    assert set(result.values) == {
        "availability",
        "effectiveness",
        "quality_ratio",
        "oee_index",
        "technical_efficiency",
        "setup_ratio",
        "scrap_ratio",
        "rework_ratio",
        "mtbf_s",
        "mttr_s",
    }


def test_an_empty_period_leaves_every_kpi_undefined_with_a_reason() -> None:
    values = report(PeriodInput("press-1", {C.NO_SHIFT: 3_600.0})).values
    for name, kpi in values.items():
        assert kpi.value is None, name
        assert kpi.reason, name
    assert "PBT = 0" in (values["availability"].reason or "")
    assert "PQ = 0" in (values["oee_index"].reason or "")


def test_planned_but_idle_gives_zero_availability_not_none() -> None:
    period = PeriodInput("press-1", {C.IDLE: 3_600.0})
    assert availability(period).value == 0.0
    assert effectiveness(period).value is None
    assert technical_efficiency(period).reason == "no production and no failure time"


def test_no_failures_leaves_mtbf_and_mttr_undefined() -> None:
    period = PeriodInput("press-1", SHIFT, PRODUCTS)
    assert mtbf(period) == mttr(period)
    assert mtbf(period).value is None and mtbf(period).reason == "no failure events (FE = 0)"


def test_missing_ideal_cycle_time_is_an_error_naming_the_product() -> None:
    period = PeriodInput("press-1", SHIFT, (ProductOutput("gear", 5, 5),))
    with pytest.raises(MissingIdealCycleTimeError, match="'gear' produced 5"):
        oee_index(period)


def test_missing_ideal_cycle_time_is_fine_when_nothing_was_produced() -> None:
    period = PeriodInput("press-1", SHIFT, (ProductOutput("gear", 0, 0),))
    assert effectiveness(period).value == 0.0


def test_effectiveness_above_one_is_refused() -> None:
    # 2 000 × 20 s = 40 000 s of ideal time in 21 000 s of production time
    period = PeriodInput("press-1", SHIFT, (ProductOutput("A", 2_000, 2_000, ideal_cycle_s=20.0),))
    with pytest.raises(ImplausibleKpiError, match=r"effectiveness 1\.9048 > 1"):
        effectiveness(period)


def test_parts_without_production_time_are_refused() -> None:
    period = PeriodInput("press-1", {C.IDLE: 60.0}, (ProductOutput("A", 1, 1, ideal_cycle_s=1.0),))
    with pytest.raises(ImplausibleKpiError, match="no production time"):
        effectiveness(period)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"produced": -1, "good": 0}, "produced must be a count"),
        ({"produced": 5, "good": 6}, "exceeds produced"),
        ({"produced": 5, "good": 3, "scrap": 2, "rework": 1}, "exceeds produced"),
        ({"produced": 1.5, "good": 0}, "produced must be a count"),
        ({"produced": True, "good": 0}, "produced must be a count"),
        ({"produced": 1, "good": 1, "ideal_cycle_s": math.nan}, "ideal_cycle_s must be"),
        ({"produced": 1, "good": 1, "ideal_cycle_s": 0.0}, "ideal_cycle_s must be > 0"),
    ],
)
def test_bad_product_quantities_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ProductOutput("A", **kwargs)  # type: ignore[arg-type]


def test_negative_or_nan_time_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'press-1': time in setup"):
        PeriodInput("press-1", {C.SETUP: -1.0})
    with pytest.raises(InvalidInputError, match="time in idle"):
        PeriodInput("press-1", {C.IDLE: math.nan})


def test_times_that_do_not_fill_the_period_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"sum to 28800\.0 s, not the period.s 30000\.0 s"):
        PeriodInput("press-1", SHIFT, calendar_s=30_000.0)


def test_a_product_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="listed twice"):
        PeriodInput("press-1", SHIFT, (PRODUCTS[0], PRODUCTS[0]))


def test_negative_failure_count_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="failures must be a count"):
        PeriodInput("press-1", SHIFT, failures=-1)
