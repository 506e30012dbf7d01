"""The SPC service over a real catalog (SQLite, migrated) and DuckDB store: characteristics
configured in an apps file, charts from tag samples and from posted inspection results,
limits from a baseline or entered, run-rule alarms recorded once per point and rule with
their lot and machine, the alarm console's history, acknowledgement, capability.

The plant is one lathe measuring a turned diameter (``diameter_mm``), with a PackML state
tag and a lot-number tag. Its samples are written to the store as the drivers would.
"""

import asyncio
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.trace.spc import (
    SpecLimits,
    imr_chart,
    individuals_capability,
    xbar_r_chart,
)
from factoryos.apps.trace.spc.config import SpcSection, load_section
from factoryos.apps.trace.spc.errors import SpcError
from factoryos.apps.trace.spc.inspection import InspectionInput, InspectionInputError
from factoryos.apps.trace.spc.service import SpcService, UnknownCharacteristicError
from factoryos.apps.trace.spc.subgroups import consecutive, gate_mask, lots_at, periodic
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.errors import AppsFileError
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.sim import load_demo_site
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.inspections import AlarmFilter, SpcAlarmStateError
from support.sites import Cell, Equipment, site_yaml

S = 1_000_000_000
H = 3_600 * S
T0 = 1_714_564_800 * S  # 2024-05-01T12:00:00Z, a whole hour
LATHE = "plant1/turning/line1/cell1/lathe-01"
DIAMETER = f"{LATHE}/diameter_mm"
STATE = f"{LATHE}/state"
LOT = f"{LATHE}/lot"
TURNING = Cell(
    "turning",
    "line1",
    "cell1",
    (
        Equipment(
            "lathe-01",
            ("{name: diameter_mm, unit: mm}", "{name: state}", "{name: lot}"),
        ),
        Equipment("lathe-02", ("{name: diameter_mm, unit: mm}",)),
    ),
)
SITE_TEXT = site_yaml("acme", cells=(TURNING,))

DIAMETER_SPEC = {
    "equipment": LATHE,
    "source": {"tag": "diameter_mm"},
    "chart": "xbar_r",
    "subgroup": {"size": 5},
    "spec": {"lsl": 9.9, "usl": 10.1, "target": 10.0, "unit": "mm"},
    "lot": {"tag": "lot"},
}


def section(**characteristics: Mapping[str, object]) -> SpcSection:
    return SpcSection.model_validate({"characteristics": characteristics})


class Plant:
    """A catalog and store with the lathe's site; services are built per test."""

    def __init__(self, where: Path) -> None:
        self.catalog = Catalog(f"sqlite:///{where / 'catalog.sqlite'}")
        self.catalog.migrate()
        self.ids = self.catalog.register_site(parse_site(SITE_TEXT))
        self.store = DuckDBStore(where / "ts.duckdb")
        self.tenant_id = self.catalog.ensure_tenant("acme")

    def write(self, path: str, ts: np.ndarray, values: np.ndarray, quality: object = None) -> None:
        ids = np.full(ts.size, self.ids[path])
        self.store.write(SampleBatch.build(ids, ts, values, quality))  # type: ignore[arg-type]

    def service(self, spc: SpcSection) -> SpcService:
        return SpcService(spc, self.catalog, self.store, self.ids, "acme")

    def close(self) -> None:
        self.store.close()
        self.catalog.close()


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    p = Plant(tmp_path)
    yield p
    p.close()


def diameters(n: int, seed: int = 7) -> np.ndarray:
    return 10.0 + np.random.default_rng(seed).normal(0.0, 0.01, n)


# -- configuration ------------------------------------------------------------------------

BAD_APPS = """\
spc:
  characteristics:
    diameter:
      equipment: plant1/turning/line1/cell1/lathe-01
      source: {tag: diameter_mm}
      chart: xbar_r
      subgroup: {size: 1}
      spec: {lsl: 10.1, usl: 9.9}
    Bad Name:
      equipment: plant1/turning/line1/cell1/lathe-09
      source: inspection
      chart: p
    runout:
      equipment: plant1/turning/line1/cell1/lathe-01
      source: {tag: runout_mm}
      chart: imr
      limits: {mean: 1.0}
      rules: {set: western_electric, tests: [1, 5]}
      lot: inspection
    scratches:
      equipment: plant1/turning/line1/cell1/lathe-01
      source: {tag: diameter_mm}
      chart: c
"""


def test_apps_file_problems_name_line_and_field() -> None:
    apps = parse_apps_file(BAD_APPS, "apps.yaml")
    with pytest.raises(AppsFileError) as caught:
        load_section(apps, parse_site(SITE_TEXT))
    found = {(p.field, p.line) for p in caught.value.problems}
    assert found == {
        ("spc.characteristics.diameter.subgroup.size", 7),
        ("spc.characteristics.diameter.spec.usl", 8),
        ("spc.characteristics.Bad Name", 9),
        ("spc.characteristics.Bad Name.equipment", 10),
        ("spc.characteristics.runout.source.tag", 15),
        ("spc.characteristics.runout.limits", 17),
        ("spc.characteristics.runout.rules.tests", 18),
        ("spc.characteristics.runout.lot", 19),
        ("spc.characteristics.scratches.source", 22),
    }
    assert "apps.yaml:18" in str(caught.value)


def test_a_misspelt_field_is_refused_at_its_line() -> None:
    text = "spc:\n  characteristics:\n    d:\n      equipment: x\n      source: inspection\n"
    text += "      chart: p\n      prority: high\n"
    with pytest.raises(AppsFileError) as caught:
        load_section(parse_apps_file(text, "apps.yaml"), parse_site(SITE_TEXT))
    assert [(p.field, p.line) for p in caught.value.problems] == [
        ("spc.characteristics.d.prority", 7)
    ]


def test_the_demo_apps_file_configures_spc_for_the_demo_plant() -> None:
    demo = Path(__file__).parents[4] / "src/factoryos/sim/sites/demo-apps.yaml"
    apps = parse_apps_file(demo.read_text(), demo)
    spc = load_section(apps, load_demo_site())
    assert spc is not None and spc.characteristics
    assert all(s.equipment.startswith("demo/") for s in spc.characteristics.values())


def test_a_service_refuses_an_inconsistent_characteristic(plant: Plant) -> None:
    bad = section(d={**DIAMETER_SPEC, "subgroup": {"size": 1}})
    with pytest.raises(SpcError, match=r"spc\.characteristics\.d\.subgroup\.size"):
        plant.service(bad)


# -- subgroups (pure) -----------------------------------------------------------------------


def test_consecutive_subgroups_restart_at_every_whole_hour() -> None:
    ts = T0 - 3 * S + np.arange(13, dtype=np.int64) * S  # 11:59:57 … 12:00:09
    values = np.arange(13, dtype=np.float64)
    point_ts, rows = consecutive(ts, values, 5)
    # 11:59:57-59 are three samples: no whole subgroup in that hour; 12:00:00 starts anew.
    assert rows.tolist() == [[3, 4, 5, 6, 7], [8, 9, 10, 11, 12]]
    assert point_ts.tolist() == [T0 + 4 * S, T0 + 9 * S]


def test_periodic_subgroups_take_the_first_samples_of_each_period() -> None:
    ts = T0 + np.array([0, 1, 2, 3, 60, 61, 120, 121, 122], dtype=np.int64) * S
    values = np.arange(9, dtype=np.float64)
    point_ts, rows = periodic(ts, values, 3, 60.0)
    assert rows.tolist() == [[0, 1, 2], [6, 7, 8]]  # the minute with two samples gives none
    assert point_ts.tolist() == [T0 + 2 * S, T0 + 122 * S]


def test_gate_and_lots_take_the_last_value_at_or_before_each_time() -> None:
    at = np.array([T0 - 1, T0, T0 + 5 * S, T0 + 10 * S], dtype=np.int64)
    tag_ts = np.array([T0, T0 + 6 * S], dtype=np.int64)
    assert gate_mask(at, tag_ts, np.array([6.0, 5.0]), [6.0]).tolist() == [
        False,
        True,
        True,
        False,
    ]
    assert lots_at(at, tag_ts, np.array([4711.0, 4712.5])) == (None, "4711", "4711", "4712.5")


# -- charts from tags -----------------------------------------------------------------------


def test_xbar_r_chart_of_a_tag_is_the_chart_of_its_subgroups(plant: Plant) -> None:
    values = diameters(100)
    plant.write(DIAMETER, T0 + np.arange(100) * S, values)
    service = plant.service(section(diameter=DIAMETER_SPEC))

    answer = service.chart("diameter", T0, T0 + H)

    assert answer.problem is None and answer.chart is not None
    expected = xbar_r_chart(values.reshape(20, 5))
    np.testing.assert_array_equal(answer.chart.location.points, expected.location.points)
    np.testing.assert_array_equal(answer.chart.location.ucl, expected.location.ucl)
    np.testing.assert_array_equal(answer.chart.spread.points, expected.spread.points)  # type: ignore[union-attr]
    assert answer.chart.sigma == pytest.approx(expected.sigma)
    assert answer.groups.ts.tolist() == (T0 + np.arange(4, 100, 5) * S).tolist()
    assert str(answer.chart.limits.phase) == "phase I"


def test_a_range_starting_mid_subgroup_shows_the_same_points(plant: Plant) -> None:
    plant.write(DIAMETER, T0 + np.arange(100) * S, diameters(100))
    service = plant.service(section(diameter=DIAMETER_SPEC))
    whole = service.chart("diameter", T0, T0 + H)
    later = service.chart("diameter", T0 + 12 * S, T0 + H)
    # Points completing from 12 s on: the subgroup of 10 … 14 s is still the same one.
    assert later.groups.ts.tolist() == whole.groups.ts.tolist()[2:]
    assert later.groups.values.tolist() == whole.groups.values.tolist()[2:]  # type: ignore[union-attr]


def test_bad_quality_and_gated_samples_are_no_measurements(plant: Plant) -> None:
    ts = T0 + np.arange(20) * S
    values = diameters(20)
    quality = np.full(20, Quality.GOOD, dtype=np.uint8)
    quality[3] = Quality.BAD
    plant.write(DIAMETER, ts, values, quality)
    plant.write(STATE, T0 + np.array([0, 10]) * S, np.array([6.0, 5.0]))  # stops at 10 s
    spec = {**DIAMETER_SPEC, "chart": "imr", "subgroup": {"size": 1}}
    spec["source"] = {"tag": "diameter_mm", "gate": {"tag": "state", "values": [6]}}
    service = plant.service(section(d=spec))

    groups = service.chart("d", T0, T0 + H).groups

    kept = [i for i in range(10) if i != 3]
    assert groups.ts.tolist() == ts[kept].tolist()
    assert groups.values[:, 0].tolist() == values[kept].tolist()  # type: ignore[index]


def test_baseline_limits_judge_a_later_shift(plant: Plant) -> None:
    values = diameters(200)
    values[150:] += 0.05  # a shift of five σ after the baseline
    plant.write(DIAMETER, T0 + np.arange(200) * S, values)
    plant.write(LOT, np.array([T0, T0 + 150 * S]), np.array([100.0, 101.0]))
    baseline = {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:01:40Z"}
    spec = {**DIAMETER_SPEC, "limits": {"baseline": baseline}}
    service = plant.service(section(diameter=spec))

    answer = service.chart("diameter", T0, T0 + H, now=T0 + H)

    assert answer.chart is not None
    base = xbar_r_chart(values[:100].reshape(20, 5))
    assert str(answer.chart.limits.phase) == "phase II"
    assert answer.chart.location.center[0] == pytest.approx(base.location.center[0])
    assert answer.chart.sigma == pytest.approx(base.sigma)
    beyond = [v for v in answer.chart.violations if v.code == "WE1" and v.role == "location"]
    assert [v.index for v in beyond] == list(range(30, 40))  # every shifted subgroup
    assert {answer.groups.lots[v.index] for v in beyond} == {"101"}


def test_entered_limits_and_nelson_codes(plant: Plant) -> None:
    values = np.full(30, 10.0) + np.tile([0.001, -0.001], 15)
    values[20] = 10.05  # 5 σ above the entered mean
    plant.write(DIAMETER, T0 + np.arange(30) * S, values)
    spec = {
        **DIAMETER_SPEC,
        "chart": "imr",
        "subgroup": {"size": 1},
        "limits": {"mean": 10.0, "sigma": 0.01},
        "rules": {"set": "nelson", "tests": [1]},
    }
    answer = plant.service(section(d=spec)).chart("d", T0, T0 + H)

    assert answer.chart is not None
    # The spike is one point out, and makes the two moving ranges it is part of too big.
    assert [(v.code, v.role, v.index) for v in answer.chart.violations] == [
        ("N1", "location", 20),
        ("N1", "spread", 19),
        ("N1", "spread", 20),
    ]
    # A moving range is known at its second observation: its point is one further on.
    assert [v.point for v in answer.chart.violations] == [20, 20, 21]
    expected = imr_chart(values, standard=None)
    assert answer.chart.location.ucl[0] == pytest.approx(10.03)
    assert expected.location.ucl[0] != pytest.approx(10.03)  # not the trial limits


def test_no_data_is_a_problem_not_an_error(plant: Plant) -> None:
    answer = plant.service(section(diameter=DIAMETER_SPEC)).chart("diameter", T0, T0 + H)
    assert answer.chart is None and answer.problem == "no data in the range"
    with pytest.raises(UnknownCharacteristicError):
        plant.service(section(diameter=DIAMETER_SPEC)).chart("nope", T0, T0 + H)


# -- alarms ---------------------------------------------------------------------------------


def test_evaluation_records_each_point_and_rule_once_with_lot_and_machine(plant: Plant) -> None:
    values = diameters(200)
    values[170:175] += 0.2  # one subgroup far out
    plant.write(DIAMETER, T0 + np.arange(200) * S, values)
    plant.write(LOT, np.array([T0 - 10 * S]), np.array([4711.0]))  # set before the range
    service = plant.service(section(diameter=DIAMETER_SPEC))

    new = service.evaluate("diameter", T0 + H)
    again = service.evaluate("diameter", T0 + H)
    later = service.evaluate("diameter", T0 + H + 17 * S)

    assert again == [] and later == []
    keys = {(a.ts, a.chart, a.rule) for a in new}
    assert len(keys) == len(new)
    assert (T0 + 174 * S, "xbar", "WE1") in keys
    assert all(a.lot == "4711" and a.equipment == LATHE for a in new)
    stored = service.alarms(AlarmFilter(characteristic="diameter"), limit=1000).alarms
    assert sorted(a.id for a in stored) == sorted(a.id for a in new)

    history = AlarmLog(plant.catalog).query(plant.tenant_id, limit=1000).records
    activations = [r for r in history if r.kind == "activated"]
    assert len(activations) == len({a.ts for a in new})  # one per point
    assert {r.alarm for r in history} == {"spc:diameter"}
    out = next(r for r in activations if r.ts == T0 + 174 * S)
    assert out.state == "active_unacked" and out.priority == 2
    assert "WE1 one point beyond 3σ" in (out.comment or "")
    assert f"lot 4711; machine {LATHE}" in (out.comment or "")
    assert sum(r.kind == "cleared" for r in history) == len(activations)


def test_acknowledging_updates_the_alarm_and_the_console_history(plant: Plant) -> None:
    values = diameters(100)
    values[40:45] += 0.2
    values[80:85] -= 0.2
    plant.write(DIAMETER, T0 + np.arange(100) * S, values)
    service = plant.service(section(diameter={**DIAMETER_SPEC, "rules": {"tests": [1]}}))
    first, second = sorted(
        (a for a in service.evaluate("diameter", T0 + H) if a.chart == "xbar"),
        key=lambda a: a.ts,
    )

    acked = service.acknowledge(first.id, "user ann", "gauge re-zeroed", T0 + 2 * H)
    with pytest.raises(SpcAlarmStateError):
        service.acknowledge(first.id, "user bo", None, T0 + 2 * H)
    service.acknowledge(second.id, "user ann", None, T0 + 3 * H)

    assert (acked.state, acked.acked_by, acked.acked_at) == ("acknowledged", "user ann", T0 + 2 * H)
    assert acked.comment == "gauge re-zeroed"
    acks = [
        r
        for r in AlarmLog(plant.catalog).query(plant.tenant_id).records
        if r.kind == "acknowledged"
    ]
    spread_left = any(a.state == "active" for a in service.alarms(AlarmFilter()).alarms)
    assert [r.actor for r in acks] == ["user ann", "user ann"]
    assert acks[1].state == "cleared_unacked"  # newest first: one still waited then
    assert acks[0].state == ("cleared_unacked" if spread_left else "normal")
    assert "gauge re-zeroed" in (acks[1].comment or "")


def test_evaluate_all_goes_on_past_a_characteristic_without_data(plant: Plant) -> None:
    values = diameters(100)
    values[50:55] += 0.2
    plant.write(DIAMETER, T0 + np.arange(100) * S, values)
    other = {**DIAMETER_SPEC, "equipment": "plant1/turning/line1/cell1/lathe-02", "lot": None}
    baseline = {"start": "2024-04-30T12:00:00Z", "end": "2024-04-30T13:00:00Z"}
    empty_baseline = {**DIAMETER_SPEC, "limits": {"baseline": baseline}}
    service = plant.service(section(a=other, b=empty_baseline, c=DIAMETER_SPEC))

    raised = service.evaluate_all(T0 + H)

    assert raised > 0
    assert {a.characteristic for a in service.alarms(AlarmFilter()).alarms} == {"c"}
    problem = service.chart("b", T0, T0 + H, now=T0 + H).problem
    assert problem is not None and "baseline" in problem


def test_run_evaluates_until_stopped(plant: Plant) -> None:
    values = diameters(100)
    values[50] += 0.2
    start = time.time_ns() - 200 * S  # run() evaluates the lookback before the clock's now
    plant.write(DIAMETER, start + np.arange(100) * S, values)
    spec = {**DIAMETER_SPEC, "chart": "imr", "subgroup": {"size": 1}}
    spc = SpcSection.model_validate(
        {"evaluate_every_s": 1, "lookback_h": 1, "characteristics": {"d": spec}}
    )
    service = plant.service(spc)

    async def run_until_evaluated() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        while service.stats.evaluations == 0:  # noqa: ASYNC110 (a counter, no event)
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(run_until_evaluated())
    active = service.alarms(AlarmFilter(state="active")).alarms
    assert (start + 50 * S, "i", "WE1") in {(a.ts, a.chart, a.rule) for a in active}


# -- inspection results ---------------------------------------------------------------------


def test_posted_results_make_a_p_chart_and_raise_an_alarm_at_once(plant: Plant) -> None:
    spec: dict[str, object] = {"equipment": LATHE, "source": "inspection", "chart": "p"}
    spec |= {"lot": "inspection", "limits": {"p": 0.025}}  # trial limits would move
    service = plant.service(section(defectives=spec))
    now = T0 + H
    for i in range(20):
        given = InspectionInput(
            ts=T0 + i * 60 * S, lot=f"L{i}", defectives=2 + i % 2, sample_size=100
        )
        _, raised = service.add_result("defectives", given, "insp", now)
        assert raised == []
    late = InspectionInput(ts=T0 + 21 * 60 * S, lot="L21", defectives=25, sample_size=100)
    stored, raised = service.add_result("defectives", late, "insp", now)

    assert (stored.lot, stored.count, stored.inspector) == ("L21", 25, "insp")
    assert [(a.rule, a.ts, a.lot, a.equipment) for a in raised] == [
        ("WE1", T0 + 21 * 60 * S, "L21", LATHE)
    ]
    answer = service.chart("defectives", T0, now)
    assert len(answer.groups) == 21 and answer.chart is not None
    assert answer.chart.location.points[-1] == pytest.approx(0.25)


def test_a_result_for_another_machine_is_linked_to_it(plant: Plant) -> None:
    spec = {"equipment": LATHE, "source": "inspection", "chart": "c"}
    service = plant.service(section(scratches=spec))
    other = "plant1/turning/line1/cell1/lathe-02"
    stored, _ = service.add_result(
        "scratches", InspectionInput(ts=T0, defects=3, equipment=other), "insp", T0
    )
    assert stored.equipment == other
    with pytest.raises(InspectionInputError) as caught:
        service.add_result(
            "scratches", InspectionInput(ts=T0, defects=3, equipment=f"{other}x"), "insp", T0
        )
    assert caught.value.field == "equipment"


@pytest.mark.parametrize(
    ("chart", "given", "field"),
    [
        ("xbar_r", InspectionInput(ts=T0, values=(1.0, 2.0)), "values"),  # size is 5
        ("xbar_r", InspectionInput(ts=T0), "values"),
        ("imr", InspectionInput(ts=T0, values=(1.0,), defects=2), "defects"),
        ("p", InspectionInput(ts=T0, defectives=2), "sample_size"),
        ("p", InspectionInput(ts=T0, defectives=12, sample_size=10), "defectives"),
        ("np", InspectionInput(ts=T0, defects=1, defectives=1, sample_size=5), "defects"),
        ("c", InspectionInput(ts=T0, defects=1, sample_size=3), "sample_size"),
        ("u", InspectionInput(ts=T0, values=(1.0,)), "values"),
        ("u", InspectionInput(ts=T0 + H, defects=1, sample_size=2), "time"),  # ahead of now
    ],
)
def test_a_result_that_does_not_fit_names_its_field(
    plant: Plant, chart: str, given: InspectionInput, field: str
) -> None:
    size = 5 if chart == "xbar_r" else 1
    spec = {"equipment": LATHE, "source": "inspection", "chart": chart, "subgroup": {"size": size}}
    service = plant.service(section(k=spec))
    with pytest.raises(InspectionInputError) as caught:
        service.add_result("k", given, "insp", T0)
    assert caught.value.field == field
    assert service.inspections.results(plant.tenant_id, "k", 0, 2**62) == []


def test_a_tag_characteristic_takes_no_results(plant: Plant) -> None:
    service = plant.service(section(diameter=DIAMETER_SPEC))
    with pytest.raises(InspectionInputError) as caught:
        service.add_result("diameter", InspectionInput(ts=T0, values=(1.0,) * 5), "x", T0)
    assert caught.value.field == "characteristic"


# -- capability -----------------------------------------------------------------------------


def test_capability_is_that_of_the_charted_measurements(plant: Plant) -> None:
    values = diameters(120)
    plant.write(DIAMETER, T0 + np.arange(120) * S, values)
    spec = {**DIAMETER_SPEC, "chart": "imr", "subgroup": {"size": 1}}
    service = plant.service(section(d=spec))

    answer = service.capability("d", T0, T0 + H, confidence=0.9)

    expected = individuals_capability(values, SpecLimits(9.9, 10.1), confidence=0.9)
    cap = answer.view.capability
    assert cap.n == 120
    assert cap.cpk == pytest.approx(expected.cpk)
    assert cap.within.k_interval == expected.within.k_interval
    assert cap.overall.ratio_interval == expected.overall.ratio_interval
    hist = answer.view.histogram
    assert int(hist.counts.sum()) == 120 and hist.edges.size == hist.counts.size + 1
    assert hist.counts.size == 11  # ⌈√120⌉
    assert hist.edges[0] == values.min() and hist.edges[-1] == pytest.approx(values.max())


def test_capability_needs_a_specification(plant: Plant) -> None:
    plant.write(DIAMETER, T0 + np.arange(20) * S, diameters(20))
    service = plant.service(section(d={**DIAMETER_SPEC, "spec": None}))
    with pytest.raises(SpcError, match="spec limits"):
        service.capability("d", T0, T0 + H)


def test_the_documented_configuration_loads_against_the_demo_plant() -> None:
    doc = (Path(__file__).parents[4] / "docs/spc.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    spc = load_section(parse_apps_file(example, "docs/spc.md"), load_demo_site())
    assert spc is not None
    assert list(spc.characteristics) == [
        "imm-01-barrel-temp",
        "imm-01-short-shots",
        "cnc-01-spindle-temp",
    ]
