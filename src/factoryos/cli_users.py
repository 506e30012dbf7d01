"""``factoryos users …``: the first accounts of an installation (a platform operator, a
tenant's first admin) and a look at who exists. Day-to-day user management is the API's
(``/api/users``, ``/api/tenants``)."""

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from factoryos.cli_console import err, out
from factoryos.store.catalog import Catalog, CatalogError, Role

users_app = typer.Typer(help="User accounts of the catalog.", no_args_is_help=True)
PASSWORD_ENV = "FACTORYOS_NEW_PASSWORD"

CatalogOption = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog database URL; default: DATA_DIR/catalog.sqlite."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the catalog lives [FACTORYOS_DATA_DIR].")
]


def _open(url: str | None, data_dir: Path | None, *, migrate: bool = True) -> Catalog:
    """The catalog at ``url`` (default: DATA_DIR/catalog.sqlite), migrated unless ``migrate``
    is off (maintenance that must not change the schema as a side effect)."""
    if url is None:
        from factoryos.runtime.settings import Settings

        directory = data_dir or Settings().data_dir
        directory.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{directory / 'catalog.sqlite'}"
    catalog = Catalog(url)
    if not migrate:
        return catalog
    try:
        catalog.migrate()
    except CatalogError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    return catalog


def _password() -> str:
    """From FACTORYOS_NEW_PASSWORD (scripts), else asked twice without echo."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, _ . @ -")],
    tenant: Annotated[str | None, typer.Option(help="The user's tenant (created if new).")] = None,
    role: Annotated[str, typer.Option(help="viewer, operator, engineer or admin.")] = "admin",
    platform_operator: Annotated[
        bool,
        typer.Option(
            "--platform-operator", help="A platform operator: manages tenants, no tenant data."
        ),
    ] = False,
    catalog: CatalogOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add a user (the password is asked for, or taken from FACTORYOS_NEW_PASSWORD)."""
    from factoryos.store.catalog import CatalogInputError
    from factoryos.store.users import Users

    if platform_operator == (tenant is not None):
        raise typer.BadParameter(
            "give either --tenant or --platform-operator", param_hint="--tenant"
        )
    try:
        parsed = Role.parse(role)
    except CatalogInputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc
    opened = _open(catalog, data_dir)
    try:
        user = Users(opened).create(username, _password(), tenant=tenant, role=parsed)
    except CatalogInputError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        opened.close()
    what = "platform operator" if user.platform else f"{user.role.label} of {user.tenant}"
    out.print(f"user [bold]{user.username}[/bold] added: {what}")


@users_app.command("list")
def list_users(
    tenant: Annotated[str, typer.Argument(help="The tenant whose users to list.")],
    catalog: CatalogOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The users of a tenant."""
    from factoryos.store.users import Users

    opened = _open(catalog, data_dir)
    try:
        tenant_id = opened.tenant_id(tenant)
        if tenant_id is None:
            err.print(f"[red]tenant: no tenant {tenant!r}[/red]")
            raise typer.Exit(2)
        table = Table("id", "username", "role", "disabled")
        for u in Users(opened).in_tenant(tenant_id):
            table.add_row(str(u.id), u.username, u.role.label, "yes" if u.disabled else "")
        out.print(table)
    finally:
        opened.close()
