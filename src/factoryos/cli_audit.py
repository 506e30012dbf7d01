"""``factoryos audit …``: check, read and anchor the catalog's tamper-evident audit log."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from factoryos.cli_console import err, out
from factoryos.model.timeparse import parse_time_ns
from factoryos.store.audit import MAX_ENTRIES, AuditEntry
from factoryos.store.catalog import Catalog, CatalogError

audit_app = typer.Typer(
    help="The catalog's audit log: logins, credential changes, setpoint writes, exports.",
    no_args_is_help=True,
)

CatalogOption = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog database URL; default: DATA_DIR/catalog.sqlite."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the catalog lives [FACTORYOS_DATA_DIR]."),
]


def _catalog_url(url: str | None, data_dir: Path | None) -> str:
    """The catalog to open; an SQLite file must exist (opening would make an empty one)."""
    if url is None:
        from factoryos.runtime.settings import Settings

        url = f"sqlite:///{(data_dir or Settings().data_dir) / 'catalog.sqlite'}"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        message = f"{url!r} is not a database URL: {exc}"
        raise typer.BadParameter(message, param_hint="--catalog") from exc
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if parsed.get_backend_name() == "sqlite" and not in_memory and not Path(database).is_file():
        raise typer.BadParameter(f"no catalog at {database}", param_hint="--catalog/--data-dir")
    return url


@contextmanager
def _catalog(url: str | None, data_dir: Path | None) -> Iterator[Catalog]:
    """The chosen catalog; a database error exits 2 with its message."""
    catalog = Catalog(_catalog_url(url, data_dir))
    try:
        yield catalog
    except CatalogError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    finally:
        catalog.close()


def _known_head(text: str | None) -> tuple[int, str] | None:
    """``ID:HASH`` as ``factoryos audit head`` prints it."""
    if text is None:
        return None
    entry_id, _, digest = text.strip().partition(":")
    if not entry_id.isdigit() or len(digest) != 64:
        raise typer.BadParameter(f"{text!r} is not ID:HASH (from `factoryos audit head`)")
    return int(entry_id), digest.lower()


@audit_app.command("verify")
def verify(
    catalog: CatalogOption = None,
    data_dir: DataDirOption = None,
    head: Annotated[
        str | None,
        typer.Option(help="ID:HASH printed by `factoryos audit head` earlier: must still hold."),
    ] = None,
) -> None:
    """Walk the hash chain; exit 1 naming the first entry that does not check out."""
    known = _known_head(head)
    with _catalog(catalog, data_dir) as opened:
        result = opened.audit.verify(known)
    if result.broken is not None:
        b = result.broken
        out.print(f"[red]audit log broken at entry {b.entry_id}: {b.kind}: {b.message}[/red]")
        out.print(f"{result.checked} entries before it are intact")
        raise typer.Exit(1)
    if result.head is None:
        out.print("audit log intact: it is empty")
        return
    newest = result.head
    # soft_wrap: a hash split over two lines could not be copied whole.
    out.print(
        f"audit log intact: {result.checked} entries, head {newest.id}:{newest.hash}",
        soft_wrap=True,
    )


@audit_app.command("head")
def head(catalog: CatalogOption = None, data_dir: DataDirOption = None) -> None:
    """Print the newest entry as ID:HASH, to keep somewhere the database's admins cannot write."""
    with _catalog(catalog, data_dir) as opened:
        newest = opened.audit.head()
    if newest is None:
        err.print("the audit log is empty")
        return
    typer.echo(f"{newest.id}:{newest.hash}")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        ns = parse_time_ns(text, time.time_ns())
    except ValueError as exc:  # TimeTextError, and a bad duration in -1h
        raise typer.BadParameter(str(exc), param_hint="--since") from exc
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def _table(entries: list[AuditEntry]) -> Table:
    table = Table("id", "at (UTC)", "tenant", "actor", "action", "target", "detail")
    for e in entries:
        at = e.at.strftime("%Y-%m-%d %H:%M:%S")
        cells = (e.tenant or "-", e.actor or "-", e.action, e.target, e.detail)
        table.add_row(str(e.id), at, *(escape(c) for c in cells))  # text, never markup
    return table


@audit_app.command("list")
def list_entries(
    catalog: CatalogOption = None,
    data_dir: DataDirOption = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's entries.")] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time: ISO 8601 with a zone, or -24h.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_ENTRIES, help="At most this many.")] = 50,
) -> None:
    """The newest entries, newest first."""
    moment = _since(since)
    with _catalog(catalog, data_dir) as opened:
        tenant_id = None if tenant is None else opened.tenant_id(tenant)
        if tenant is not None and tenant_id is None:
            raise typer.BadParameter(f"no tenant {tenant!r}", param_hint="--tenant")
        entries = opened.audit.entries(tenant_id, since=moment, limit=limit)
    out.print(_table(entries))
