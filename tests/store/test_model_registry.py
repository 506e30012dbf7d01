"""The model registry on a migrated catalog, on SQLite and on the real PostgreSQL: versions
numbered per name, artifacts kept byte for byte, one promoted version, rollback through the
promotion log, tenants apart, bad input refused without a trace."""

from datetime import UTC, datetime, timedelta

import pytest

from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.model_registry import ModelRegistry, NewModel

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
NAME = "anomaly/demo/machining/line1/cell1/cnc-01"


def _model(artifact: bytes = b"\x08\x07onnx", **changes: object) -> NewModel:
    fields: dict[str, object] = {
        "name": NAME,
        "kind": "anomaly",
        "family": "pca",
        "created_by": "user ann",
        "code_version": "0.1.0+gabc",
        "train_start": 1_000,
        "train_end": 2_000,
        "train_rows": 86_400,
        "features": ["a/power_kw", "a/vibration_mm_s"],
        "hyper_parameters": {"variance": 0.9, "window": 10},
        "metrics": {"onnx_max_abs_diff": 1e-12},
        "artifact": artifact,
    }
    fields.update(changes)
    return NewModel(**fields)  # type: ignore[arg-type]


def test_versions_count_up_per_name_and_keep_every_fact(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    registry = ModelRegistry(catalog)

    first = registry.register(tenant, _model(b"one"), T0)
    second = registry.register(tenant, _model(b"two", family="iforest"), T0 + timedelta(hours=1))
    other = registry.register(tenant, _model(b"three", name="anomaly/other"), T0)

    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.status == second.status == "candidate"
    stored = registry.get(tenant, NAME, 2)
    assert stored.artifact == b"two" and stored.family == "iforest"
    assert stored.features == ["a/power_kw", "a/vibration_mm_s"]
    assert stored.hyper_parameters == {"variance": 0.9, "window": 10}
    assert stored.metrics == {"onnx_max_abs_diff": 1e-12}
    assert (stored.train_start, stored.train_end, stored.train_rows) == (1_000, 2_000, 86_400)
    assert stored.created == T0 + timedelta(hours=1) and stored.code_version == "0.1.0+gabc"
    assert [v.version for v in registry.versions(tenant, NAME)] == [2, 1]
    assert all(v.artifact == b"" for v in registry.versions(tenant))  # listings stay light


def test_promotion_keeps_one_version_in_use_and_rollback_walks_back(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    registry = ModelRegistry(catalog)
    for i in range(3):
        registry.register(tenant, _model(f"v{i + 1}".encode()), T0)
    assert registry.promoted(tenant, NAME) is None

    registry.promote(tenant, NAME, 1, "user ann", T0)
    registry.promote(tenant, NAME, 3, "user ann", T0)
    in_use = registry.promoted(tenant, NAME)
    assert in_use is not None and in_use.version == 3 and in_use.artifact == b"v3"
    statuses = {v.version: v.status for v in registry.versions(tenant, NAME)}
    assert statuses == {1: "retired", 2: "candidate", 3: "promoted"}

    back = registry.rollback(tenant, NAME, "user bob", T0 + timedelta(minutes=5))
    assert back.version == 1
    assert [p.version for p in registry.promoted_all(tenant)] == [1]
    log = registry.promotions(tenant, NAME)
    assert [(p.version, p.action, p.actor) for p in log] == [
        (1, "rollback", "user bob"),
        (3, "promote", "user ann"),
        (1, "promote", "user ann"),
    ]
    # Rolling back again returns to the version in use before version 1 came back: 3.
    assert registry.rollback(tenant, NAME, "user bob", T0).version == 3


def test_rollback_needs_an_earlier_version(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    registry = ModelRegistry(catalog)
    with pytest.raises(CatalogInputError, match="no version is in use"):
        registry.rollback(tenant, NAME, "user ann", T0)
    registry.register(tenant, _model(), T0)
    registry.promote(tenant, NAME, 1, "user ann", T0)
    with pytest.raises(CatalogInputError, match="the only one ever in use"):
        registry.rollback(tenant, NAME, "user ann", T0)
    assert registry.promoted(tenant, NAME) is not None


def test_tenants_do_not_see_each_others_models(catalog: Catalog) -> None:
    acme, other = catalog.ensure_tenant("acme"), catalog.ensure_tenant("other")
    registry = ModelRegistry(catalog)
    registry.register(acme, _model(), T0)
    assert registry.versions(other) == []
    with pytest.raises(CatalogInputError, match="no version 1"):
        registry.get(other, NAME, 1)
    with pytest.raises(CatalogInputError, match="no version 1"):
        registry.promote(other, NAME, 1, "user eve", T0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "name"),
        ({"family": ""}, "family"),
        ({"train_start": 5, "train_end": 4}, "before train_start"),
        ({"train_rows": 0}, "train_rows"),
        ({"features": []}, "features"),
        ({"artifact": b""}, "artifact"),
        ({"metrics": {"rmse": float("nan")}}, "metrics: not JSON"),
        ({"hyper_parameters": {"x": object()}}, "hyper_parameters: not JSON"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    catalog: Catalog, changes: dict[str, object], message: str
) -> None:
    tenant = catalog.ensure_tenant("acme")
    registry = ModelRegistry(catalog)
    with pytest.raises(CatalogInputError, match=message):
        registry.register(tenant, _model(**changes), T0)
    assert registry.versions(tenant) == []
