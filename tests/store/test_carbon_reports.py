"""Carbon report versions on a migrated catalog, on SQLite and on the real PostgreSQL:
numbered per site and period, never changed once stored, the same content issued twice
stored once, tenants apart, bad input refused without a trace."""

from datetime import UTC, datetime, timedelta

import pytest

from factoryos.store.carbon_reports import CarbonReportNotFoundError, CarbonReports
from factoryos.store.catalog import Catalog, CatalogInputError

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def _doc(kg: float) -> dict[str, object]:
    return {"lines": [{"activity": "electricity", "kg_co2e": kg}], "total": kg, "note": "ü ≥ 0"}


def test_versions_count_up_and_earlier_ones_stay_as_issued(catalog: Catalog) -> None:
    reports = CarbonReports(catalog)
    tenant = catalog.ensure_tenant("acme")
    first, new = reports.issue(tenant, "demo", "2026-11", _doc(10.5), DIGEST_A, "eng", T0)
    assert new and first.version == 1 and first.content == _doc(10.5)

    again, new_again = reports.issue(
        tenant, "demo", "2026-11", _doc(10.5), DIGEST_A, "eng", T0 + timedelta(hours=1)
    )
    assert not new_again and again.version == 1 and again.created == T0

    second, new = reports.issue(
        tenant, "demo", "2026-11", _doc(12.25), DIGEST_B, "eng2", T0 + timedelta(days=1)
    )
    assert new and second.version == 2 and second.factor_digest == DIGEST_B

    old = reports.get(tenant, "demo", "2026-11", 1)
    assert old.content == _doc(10.5) and old.content_sha256 == first.content_sha256
    assert old.created == T0 and old.created_by == "eng" and old.factor_digest == DIGEST_A
    # back to the first content: a third version (issues are history, not a set)
    third, new = reports.issue(tenant, "demo", "2026-11", _doc(10.5), DIGEST_A, "eng", T0)
    assert new and third.version == 3

    other_period, _ = reports.issue(tenant, "demo", "2026", _doc(99.0), DIGEST_A, "eng", T0)
    assert other_period.version == 1
    listed = [(v.period, v.version) for v in reports.versions(tenant, "demo")]
    assert listed == [("2026-11", 3), ("2026-11", 2), ("2026-11", 1), ("2026", 1)]
    assert [v.version for v in reports.versions(tenant, "demo", "2026")] == [1]
    assert all(v.content == {} for v in reports.versions(tenant, "demo"))


def test_tenants_do_not_see_each_others_reports(catalog: Catalog) -> None:
    reports = CarbonReports(catalog)
    a, b = catalog.ensure_tenant("a"), catalog.ensure_tenant("b")
    reports.issue(a, "demo", "2026-11", _doc(1.0), DIGEST_A, "eng", T0)

    assert reports.versions(b, "demo") == []
    with pytest.raises(CarbonReportNotFoundError, match="demo 2026-11 version 1"):
        reports.get(b, "demo", "2026-11", 1)
    first, new = reports.issue(b, "demo", "2026-11", _doc(1.0), DIGEST_A, "eng", T0)
    assert new and first.version == 1


@pytest.mark.parametrize(
    ("site", "period", "content", "message"),
    [
        ("", "2026-11", _doc(1.0), "site"),
        ("demo", "x" * 17, _doc(1.0), "period"),
        ("demo", "2026-11", {"total": float("nan")}, "NaN"),
        ("demo", "2026-11", {"when": T0}, "content"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    catalog: Catalog, site: str, period: str, content: dict[str, object], message: str
) -> None:
    reports = CarbonReports(catalog)
    tenant = catalog.ensure_tenant("acme")
    with pytest.raises(CatalogInputError, match=message):
        reports.issue(tenant, site, period, content, DIGEST_A, "eng", T0)
    assert reports.versions(tenant, site or "demo") == []
