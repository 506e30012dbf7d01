"""``factoryos trace``: EPCIS documents into the catalog from the command line."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.epcis.validate import EpcisDocumentError, parse_document
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.cli_users import CatalogOption, DataDirOption, _open
from factoryos.store.catalog import CatalogError
from factoryos.store.epcis_events import EpcisEvents

trace_app = typer.Typer(help="Traceability: EPCIS events.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


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
    for col in ("file", "events", "stored", "already there"):
        table.add_column(col, justify="left" if col == "file" else "right")
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
            table.add_row(path.name, str(total), str(done.written), str(len(done.duplicates)))
    finally:
        catalog.close()
    out.print(table)
    if failed:
        err.print(f"[red]{failed} of {len(files)} documents refused; nothing of them stored[/red]")
        raise typer.Exit(2)
