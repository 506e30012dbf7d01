"""The taxonomy model: presets, strict validation, and the rules it refuses."""

import json

import pytest
from pydantic import ValidationError

from factoryos.apps.oee.taxonomy import (
    DEFAULT,
    PRESETS,
    PerformanceMethod,
    Taxonomy,
)
from factoryos.apps.oee.taxonomy import (
    TimeCategory as C,
)


def test_the_default_is_iso22400() -> None:
    assert DEFAULT is PRESETS["iso22400"]
    assert DEFAULT.performance is PerformanceMethod.CYCLE_TIME
    assert DEFAULT.not_planned == {C.NO_SHIFT, C.BREAK, C.PLANNED_DOWNTIME, C.NO_ORDER}


def test_presets_differ_only_in_planned_time() -> None:
    assert PRESETS["teep"].not_planned == frozenset()
    assert PRESETS["iso22400"].not_planned - PRESETS["breaks_planned"].not_planned == {C.BREAK}
    assert len({t.production for t in PRESETS.values()}) == 1


def test_a_taxonomy_loads_from_json() -> None:
    text = (
        '{"name": "plant-7", "not_planned": ["no_shift"], '
        '"production": ["producing"], "performance": "time"}'
    )
    taxonomy = Taxonomy.model_validate_json(text)
    assert taxonomy.production == {C.PRODUCING}
    assert taxonomy.performance is PerformanceMethod.TIME


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"production": ["micro_stop"]}, "must include 'producing'"),
        ({"production": ["producing", "setup"]}, "only producing and micro_stop"),
        ({"not_planned": ["micro_stop"]}, "both production and not planned"),
        ({"not_planned": ["lunch"]}, "not_planned"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_taxonomies_are_refused(fields: dict[str, object], message: str) -> None:
    data: dict[str, object] = {
        "name": "x",
        "not_planned": [],
        "production": ["producing", "micro_stop"],
        "performance": "cycle_time",
    } | fields
    with pytest.raises(ValidationError, match=message):
        Taxonomy.model_validate_json(json.dumps(data))


def test_strict_mode_refuses_plain_strings_from_python() -> None:
    with pytest.raises(ValidationError):
        Taxonomy(
            name="x",
            not_planned=frozenset(),
            production=frozenset({C.PRODUCING}),
            performance="time",  # type: ignore[arg-type]
        )
