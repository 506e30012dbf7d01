"""``factoryos trace``: EPCIS documents into the catalog, and recall scopes out of it, from
the command line."""

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.epcis.validate import EpcisDocumentError, parse_document
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.apps.trace.errors import GenealogyError
from factoryos.apps.trace.genealogy import MAX_DEPTH
from factoryos.apps.trace.production.events import event_time
from factoryos.apps.trace.recall import Kind, RecallScope, kind_of, recall_scope, to_json
from factoryos.cli_console import err, out
from factoryos.cli_users import CatalogOption, DataDirOption, _open
from factoryos.store.catalog import CatalogError
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.genealogy_indexes import rebuild_genealogy_indexes

trace_app = typer.Typer(help="Traceability: EPCIS events.", no_args_is_help=True)


def read_document(path: Path) -> Any:
    """A JSON/JSON-LD or XML EPCIS document as JSON data, validated."""
    data = path.read_bytes()
    if path.suffix.lower() == ".xml":
        return parse_xml_document(data, str(path))
    return parse_document(data, str(path))


@trace_app.command("import")
def trace_import(
    files: Annotated[list[Path], typer.Argument(help="EPCIS documents: .json, .jsonld or .xml.")],
    tenant: Annotated[str, typer.Option(help="The tenant the events belong to.")] = "default",
    catalog_url: CatalogOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Capture EPCIS 2.0 documents: each is validated against the standard's schema and
    stored whole or not at all; events already stored (same eventID) are not stored twice."""
    catalog = _open(catalog_url, data_dir)
    store = EpcisEvents(catalog)
    tenant_id = catalog.ensure_tenant(tenant)
    table = Table(title=f"EPCIS import into tenant {tenant!r}")
    table.add_column("file", no_wrap=True)  # a path is copied whole, never broken
    for col in ("events", "stored", "already there", "master data"):
        table.add_column(col, justify="right")
    failed = 0
    try:
        for path in files:
            try:
                document = read_document(path)
                done = capture(store, tenant_id, document, time.time_ns(), str(path))
            except (OSError, EpcisDocumentError, CatalogError) as exc:
                failed += 1
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                err.print(f"[red]{path}: not imported[/red]\n{reason}", highlight=False)
                continue
            total = done.written + len(done.duplicates)
            table.add_row(
                path.name,
                *map(str, (total, done.written, len(done.duplicates), done.described)),
            )
    finally:
        catalog.close()
    out.print(table)
    if failed:
        err.print(f"[red]{failed} of {len(files)} documents refused; nothing of them stored[/red]")
        raise typer.Exit(2)


@trace_app.command("reindex")
def trace_reindex(catalog_url: CatalogOption = None, data_dir: DataDirOption = None) -> None:
    """Rebuild the genealogy indexes: packed, their pages in key order, so traces read fewer
    and sequential pages (after a large import, or weekly on a busy PostgreSQL catalog).
    PostgreSQL rebuilds them concurrently: capture and traces go on meanwhile."""
    catalog = _open(catalog_url, data_dir, migrate=False)  # online upkeep: no schema change
    try:
        rebuilt = rebuild_genealogy_indexes(catalog)
    except CatalogError as exc:
        err.print(f"[red]reindex:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    finally:
        catalog.close()
    table = Table(title="Genealogy indexes rebuilt")
    table.add_column("index", no_wrap=True)
    for col in ("before", "after", "seconds"):
        table.add_column(col, justify="right")
    for r in rebuilt:
        table.add_row(r.index, _mb(r.bytes_before), _mb(r.bytes_after), f"{r.seconds:.1f}")
    out.print(table)


def _mb(size: int | None) -> str:
    return "—" if size is None else f"{size / 2**20:,.1f} MB"


def _count_table(scope: RecallScope) -> Table:
    table = Table(title="Affected")
    table.add_column("affected")
    table.add_column("count", justify="right")
    for name, items in (
        ("lots", scope.lots),
        ("units", scope.units),
        ("cases and pallets", scope.containers),
        ("other identifiers", scope.others),
        ("shipments", scope.shipments),
        ("customers", scope.customers),
    ):
        table.add_row(name, str(len(items)))
    return table


def _lot_table(scope: RecallScope) -> Table:
    table = Table(title="Affected lots")
    for col in ("lot", "location", "disposition", "last event"):
        table.add_column(col, overflow="fold")  # identifiers whole, never cut short
    for lot in scope.lots:
        where = scope.locations.get(lot)
        if where is None:
            table.add_row(lot, "-", "-", "-")
        else:
            seen = f"{where.biz_step or '-'} {event_time(where.event_time_ns)}"
            table.add_row(lot, where.where or "-", where.disposition or "-", seen)
    return table


def _customer_table(scope: RecallScope) -> Table:
    table = Table(title="Customers")
    for col in ("customer", "ship-to", "shipments", "units", "business transactions"):
        numeric = col in ("shipments", "units")
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for c in scope.customers:
        table.add_row(
            c.party,
            "\n".join(c.ship_to) or "-",
            str(len(c.shipments)),
            str(c.units),
            "\n".join(c.transactions) or "-",
        )
    return table


def _location_table(scope: RecallScope) -> Table:
    """Affected identifiers counted by where they are and in what state."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for epc, where in scope.locations.items():
        key = (where.where or "-", where.disposition or "-")
        counts.setdefault(key, Counter())[kind_of(epc)] += 1
    table = Table(title="Current locations")
    for col in ("location", "disposition", "lots", "units", "cases/pallets", "other"):
        text = col in ("location", "disposition")
        table.add_column(col, justify="left" if text else "right", overflow="fold")
    kinds = (Kind.LOT, Kind.UNIT, Kind.CONTAINER, Kind.OTHER)
    for (place, disposition), count in sorted(counts.items()):
        table.add_row(place, disposition, *(str(count[k]) for k in kinds))
    return table


@trace_app.command("recall")
def trace_recall(
    identifier: Annotated[
        str, typer.Argument(help="A material or product lot, a unit or a case (EPC URN).")
    ],
    tenant: Annotated[str, typer.Option(help="The tenant whose events to search.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the scope as JSON.")] = False,
    max_depth: Annotated[
        int, typer.Option(min=1, max=MAX_DEPTH, help="Levels of genealogy to follow.")
    ] = MAX_DEPTH,
    catalog_url: CatalogOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recall scope: the units, lots, cases, shipments and customers an identifier reached,
    and where each affected item is now (the latest event naming it or its container)."""
    catalog = _open(catalog_url, data_dir)
    try:
        tenant_id = catalog.tenant_id(tenant)
        if tenant_id is None:
            err.print(f"[red]tenant: no tenant {tenant!r}[/red]")
            raise typer.Exit(2)
        scope = recall_scope(EpcisEvents(catalog), tenant_id, identifier, max_depth)
    except (CatalogError, GenealogyError) as exc:
        err.print(f"[red]recall {identifier}: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    finally:
        catalog.close()
    if not scope.found:
        err.print(f"[red]no event of tenant {tenant!r} names {identifier}[/red]", highlight=False)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(to_json(scope), indent=2, ensure_ascii=False))
        return
    out.print(f"Recall scope of [bold]{scope.root}[/bold] ({scope.kind})", highlight=False)
    for table in (_count_table, _lot_table, _customer_table, _location_table):
        out.print(table(scope))
    if scope.truncated:
        err.print(f"[yellow]the trace stopped at depth {max_depth}: the scope may be larger[/]")
