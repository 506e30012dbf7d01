"""OEE of one equipment from its samples: hand-computed examples, no store."""

import numpy as np
import pytest

from factoryos.apps.oee.config import EquipmentSpec
from factoryos.apps.oee.errors import CounterError
from factoryos.apps.oee.evaluate import EquipmentData, Series, combine, evaluate, expire
from factoryos.apps.oee.state import PlannedWindow
from factoryos.apps.oee.taxonomy import ISO22400
from factoryos.apps.oee.taxonomy import TimeCategory as C
from factoryos.model.quality import Quality

S = 1_000_000_000
EXE, ABORTED = 6.0, 9.0


def series(*pairs: tuple[float, float], bad: tuple[int, ...] = ()) -> Series:
    ts = np.array([round(t * S) for t, _ in pairs], np.int64)
    quality = np.zeros(len(pairs), np.uint8)
    quality[list(bad)] = Quality.BAD
    return Series(ts, np.array([v for _, v in pairs], np.float64), quality)


SPEC = EquipmentSpec.model_validate(
    {
        "calendar": "c",
        "state_tag": "state",
        "counters": {"produced": "cycle_count", "good": "good_count"},
        "ideal_cycle_s": 10.0,
        "micro_stop_s": 0.0,
    }
)
# running 0-600 s, down 600-900 s, running 900-1200 s; 85 parts, 78 good
DATA = {
    "state": series((0, EXE), (600, ABORTED), (900, EXE)),
    "produced": series((0, 0), (300, 27), (600, 55), (900, 55), (1000, 65), (1200, 85)),
    "good": series((0, 0), (300, 25), (600, 50), (900, 50), (1000, 59), (1200, 78)),
}


def kpis(result: object) -> dict[str, float | None]:
    values = result.kpis.values  # type: ignore[attr-defined]
    return {k: values[k].value for k in ("availability", "effectiveness", "quality_ratio")}


def test_a_state_tag_and_counters_give_the_iso_kpis() -> None:
    r = evaluate("m", SPEC, EquipmentData(DATA), [], 0, 1200 * S, ISO22400)
    assert kpis(r) == pytest.approx(
        {"availability": 900 / 1200, "effectiveness": 85 * 10 / 900, "quality_ratio": 78 / 85}
    )
    assert r.products[0].scrap == 7
    assert r.times.down_events == 1
    assert r.notes == ()


def test_a_planned_window_leaves_planned_time() -> None:
    window = PlannedWindow(600 * S, 900 * S, C.PLANNED_DOWNTIME)  # the stop was planned
    r = evaluate("m", SPEC, EquipmentData(DATA), [window], 0, 1200 * S, ISO22400)
    assert r.kpis.times.pbt == 900
    assert kpis(r)["availability"] == 1.0


def test_time_before_the_first_sample_is_unknown_and_said_so() -> None:
    late = {
        "state": series((100, EXE), (600, ABORTED), (900, EXE)),
        "produced": series((100, 0), (600, 45), (1200, 75)),
        "good": series((100, 0), (1200, 70)),
    }
    r = evaluate("m", SPEC, EquipmentData(late), [], 0, 1200 * S, ISO22400)
    assert r.times.unknown_s == 100
    assert r.kpis.times.pbt == 1100
    assert any("no known machine state" in n for n in r.notes)


def test_a_range_inside_the_data_holds_the_earlier_samples() -> None:
    # 300-1000 s: running 300-600, down 600-900, running 900-1000
    r = evaluate("m", SPEC, EquipmentData(DATA), [], 300 * S, 1000 * S, ISO22400)
    assert r.times.time_s[C.PRODUCING] == 400
    assert r.times.time_s[C.UNPLANNED_DOWN] == 300
    assert r.products[0].produced == 65 - 27


def test_counter_resets_and_bad_samples() -> None:
    data = {
        **DATA,
        # reset to 0 after 50 parts, then 35 more; a BAD sample of garbage is ignored
        "produced": series((0, 0), (600, 50), (700, 999_999), (900, 0), (1200, 35), bad=(2,)),
        "good": series((0, 0), (1200, 80)),
    }
    r = evaluate("m", SPEC, EquipmentData(data), [], 0, 1200 * S, ISO22400)
    assert r.products[0].produced == 85


def test_a_counter_without_samples_is_noted_not_zeroed_silently() -> None:
    data = {**DATA, "good": Series.empty()}
    r = evaluate("m", SPEC, EquipmentData(data), [], 0, 1200 * S, ISO22400)
    assert "good counter has no samples up to the range end" in r.notes


PRODUCTS = SPEC.model_copy(
    update={
        "ideal_cycle_s": None,
        "product_tag": "product",
        "products": EquipmentSpec.model_validate(
            {
                "calendar": "c",
                "state_tag": "s",
                "counters": {"produced": "p", "good": "g"},
                "product_tag": "product",
                "products": {
                    1: {"name": "A", "ideal_cycle_s": 10},
                    2: {"name": "B", "ideal_cycle_s": 5},
                },
            }
        ).products,
    }
)


def test_products_are_counted_over_their_own_time() -> None:
    data = {**DATA, "product": series((0, 1), (600, 2))}
    r = evaluate("m", PRODUCTS, EquipmentData(data), [], 0, 1200 * S, ISO22400)
    by_name = {p.product: p for p in r.products}
    assert (by_name["A"].produced, by_name["B"].produced) == (55, 30)
    assert kpis(r)["effectiveness"] == pytest.approx((55 * 10 + 30 * 5) / 900)
    only_a = evaluate(
        "m", PRODUCTS, EquipmentData(data), [], 0, 1200 * S, ISO22400, only_product="A"
    )
    assert only_a.times.calendar_s == 600
    assert kpis(only_a)["effectiveness"] == pytest.approx(550 / 600)


def test_derived_state_from_speed_and_power() -> None:
    spec = EquipmentSpec.model_validate(
        {
            "calendar": "c",
            "derive": {
                "power": "p",
                "speed": "v",
                "rules": {"idle_power_kw": 5.0, "running_speed": 100.0},
            },
            "counters": {"produced": "n", "scrap": "x"},
            "ideal_cycle_s": 10.0,
            "micro_stop_s": 0.0,
        }
    )
    data = {
        # running 0-600 (speed), idle 600-900 (powered, no speed), down 900-1200 (no power)
        "speed": series((0, 500), (600, 0), (900, 0)),
        "power": series((0, 20), (600, 8), (900, 1)),
        "produced": series((0, 0), (1200, 60)),
        "scrap": series((0, 0), (1200, 3)),
    }
    r = evaluate("m", spec, EquipmentData(data), [], 0, 1200 * S, ISO22400)
    assert r.times.time_s == {C.PRODUCING: 600, C.IDLE: 300, C.UNPLANNED_DOWN: 300}
    assert (r.products[0].good, r.products[0].scrap) == (57, 3)


def test_combine_sums_times_and_quantities() -> None:
    a = evaluate("a", SPEC, EquipmentData(DATA), [], 0, 1200 * S, ISO22400)
    planned = [PlannedWindow(600 * S, 900 * S)]  # b's stop was planned
    b = evaluate("b", SPEC, EquipmentData(DATA), planned, 0, 1200 * S, ISO22400)
    both = combine("line", [a, b], ISO22400)
    assert both.kpis.times.pbt == 1200 + 900
    assert both.kpis.times.apt == 900 + 900
    assert both.kpis.values["availability"].value == pytest.approx(1800 / 2100)
    assert {p.product for p in both.products} == {"a default", "b default"}


def test_a_silent_source_becomes_unknown_after_max_hold() -> None:
    # the state tag says running at 0 s and then nothing: trusted for 300 s only
    s = expire(series((0, EXE), (100, EXE)), 300 * S, 1200 * S)
    assert s.ts.tolist() == [0, 100 * S, 400 * S]
    assert s.quality[-1] == Quality.BAD and np.isnan(s.values[-1])
    counts = series((0, 0), (400, 36), (1200, 36))
    data = {"state": s, "produced": counts, "good": counts}
    r = evaluate("m", SPEC, EquipmentData(data), [], 0, 1200 * S, ISO22400)
    assert r.times.unknown_s == 800
    assert r.kpis.times.pbt == 400
    assert expire(series((0, EXE), (100, EXE)), 5000 * S, 1200 * S).ts.size == 2


def test_counters_straddling_an_edge_by_a_part_are_clamped_and_noted() -> None:
    # good read one PLC cycle after produced: at 600 s good already counts part 56
    skewed = {**DATA, "good": series((0, 0), (300, 25), (600, 56), (1200, 78))}
    r = evaluate("m", SPEC, EquipmentData(skewed), [], 0, 600 * S, ISO22400)
    assert (r.products[0].produced, r.products[0].good) == (55, 55)
    assert any("slightly different times" in n for n in r.notes)
    far = {**DATA, "good": series((0, 0), (600, 70), (1200, 78))}
    with pytest.raises(CounterError, match="counters disagree"):
        evaluate("m", SPEC, EquipmentData(far), [], 0, 600 * S, ISO22400)
