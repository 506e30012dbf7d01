"""``factoryos pki …`` and ``factoryos broker …``: a local certificate authority, and the
MQTT broker's users, passwords and access rules for a site. ``cli.py`` registers the apps."""

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from factoryos.cli_console import err, out
from factoryos.errors import FactoryOSError

if TYPE_CHECKING:
    from factoryos.security import BrokerConfig, SparkplugNode
    from factoryos.security.pki import Issued

pki_app = typer.Typer(
    help="A local certificate authority: TLS for the broker and the API, client "
    "certificates for devices and gateways.",
    no_args_is_help=True,
)
issue_app = typer.Typer(help="Issue a certificate signed by the local CA.", no_args_is_help=True)
pki_app.add_typer(issue_app, name="issue")
broker_app = typer.Typer(
    help="The MQTT broker's users, passwords and access rules for a site (Mosquitto).",
    no_args_is_help=True,
)


DirOption = Annotated[Path, typer.Option("--dir", help="The CA's directory.", file_okay=False)]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace existing files.")]
DaysOption = Annotated[int, typer.Option(help="Days the certificate is valid.", min=1, max=825)]
NameOption = Annotated[
    str, typer.Option("--name", help="Common name and file stem, e.g. broker or line1-gw.")
]


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A FactoryOS error is printed as one red message and exits with status 2."""
    try:
        yield
    except FactoryOSError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


def _show_files(title: str, issued: "Issued", files: tuple[Path, Path], details: str) -> None:
    table = Table(title=title)
    for column in ("file", "what", "mode"):
        table.add_column(column)
    cert, key = files
    table.add_row(str(cert), f"certificate: {details}", "0644")
    table.add_row(str(key), "private key: keep it secret", "0600")
    out.print(table)
    expires: datetime = issued.cert.not_valid_after_utc
    out.print(f"valid until {expires:%Y-%m-%d} (CN={issued.common_name})")


@pki_app.command("init")
def pki_init(
    directory: DirOption = Path("pki"),
    name: Annotated[str, typer.Option(help="The CA's common name.")] = "FactoryOS local CA",
    days: Annotated[int, typer.Option(help="Days the CA is valid.", min=1)] = 3650,
    force: ForceOption = False,
) -> None:
    """Create a local CA (ca.pem, ca.key) in --dir; refuses to replace one unless --force."""
    from factoryos.security.pki import PkiDir, create_ca, save

    with _reported():
        ca = create_ca(name, days=days)
        files = PkiDir(directory).ca
        save(ca, files, overwrite=force)
    _show_files("local CA", ca, files, "trust it in clients (ca_file, verify)")


def _issue(
    directory: Path, name: str, force: bool, sign: Callable[["Issued"], "Issued"]
) -> tuple["Issued", tuple[Path, Path]]:
    """Sign a certificate with the CA of ``directory`` and save it as ``name``."""
    from factoryos.security.pki import PkiDir, load, save

    where = PkiDir(directory)
    with _reported():
        files = where.files(name)
        issued = sign(load(where.ca))
        save(issued, files, overwrite=force)
    return issued, files


@issue_app.command("server")
def issue_server(
    name: NameOption,
    dns: Annotated[
        list[str] | None, typer.Option("--dns", help="A DNS name clients use (repeatable).")
    ] = None,
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help="An IP address clients use (repeatable).")
    ] = None,
    directory: DirOption = Path("pki"),
    days: DaysOption = 730,
    force: ForceOption = False,
) -> None:
    """A TLS server certificate for the broker or the API: <name>.pem and <name>.key."""
    from factoryos.security.pki import issue_server

    def sign(ca: "Issued") -> "Issued":
        return issue_server(ca, name, dns or [], ip or [], days=days)

    issued, files = _issue(directory, name, force, sign)
    names = ", ".join([*(dns or []), *(ip or [])])
    _show_files(f"server certificate {name}", issued, files, f"for {names}")


@issue_app.command("client")
def issue_client(
    name: NameOption,
    directory: DirOption = Path("pki"),
    days: DaysOption = 730,
    force: ForceOption = False,
) -> None:
    """A TLS client certificate whose common name is --name (the broker user under mTLS)."""
    from factoryos.security.pki import issue_client

    issued, files = _issue(directory, name, force, lambda ca: issue_client(ca, name, days=days))
    _show_files(f"client certificate {name}", issued, files, f"logs in as {name} under mTLS")


def _gateway_nodes(
    names: list[str], group: str | None, configs: list[Path]
) -> tuple[list["SparkplugNode"], list[str]]:
    """The gateways' edge nodes, from names + group and from gateway config files."""
    from factoryos.edge.config import SparkplugUplinkConfig, load_gateway_config
    from factoryos.security import BrokerConfigError, gateway_node

    if names and group is None:
        raise BrokerConfigError("--group: needed with --gateway (the gateways' Sparkplug group)")
    nodes = [gateway_node(name, group or "") for name in names]
    notes = []
    for path in configs:
        config = load_gateway_config(path)
        uplink = config.uplink
        if not isinstance(uplink, SparkplugUplinkConfig):
            notes.append(f"{path}: gateway {config.gateway} uplinks over NATS: no broker user")
            continue
        nodes.append(
            gateway_node(
                config.gateway,
                uplink.group_id,
                user=uplink.username,
                edge_node_id=uplink.edge_node_id,
            )
        )
    return nodes, notes


def _show_users(result: "BrokerConfig") -> None:
    """The users and their rights; then each new password, once, on a line of its own so it
    can be copied whole."""
    from factoryos.security.credentials import Status

    table = Table(title=f"broker users ({result.files.out})")
    for column in ("user", "kind", "may publish", "may read", "password"):
        table.add_column(column, overflow="fold")
    for user, cred in zip(result.users, result.credentials, strict=True):
        publish, read = "\n".join(user.publish) or "-", "\n".join(user.subscribe) or "-"
        table.add_row(user.name, str(user.role), publish, read, str(cred.status))
    out.print(table)
    shown = [c for c in result.credentials if c.status is not Status.KEPT]
    if shown:
        out.print("[bold]new passwords[/bold] (shown once; kept in secrets.json):")
    for cred in shown:
        out.print(f"  {cred.user} {cred.password}", highlight=False, soft_wrap=True)


@broker_app.command("config")
def broker_config(
    site: Annotated[Path, typer.Option("--site", help="Site file (YAML).", dir_okay=False)],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory of the generated files.", file_okay=False)
    ],
    gateway: Annotated[
        list[str] | None,
        typer.Option("--gateway", help="A gateway's name: its Sparkplug edge node (repeatable)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="The Sparkplug group of the --gateway names.")
    ] = None,
    gateway_config: Annotated[
        list[Path] | None,
        typer.Option(
            "--gateway-config", help="A gateway config file (repeatable).", dir_okay=False
        ),
    ] = None,
    rotate: Annotated[
        list[str] | None, typer.Option("--rotate", help="Give this user a new password.")
    ] = None,
    platform_user: Annotated[
        str, typer.Option(help="The user FactoryOS logs in as.")
    ] = "factoryos",
    uns_prefix: Annotated[str, typer.Option(help="Topic prefix of the UNS.")] = "factoryos/v1",
    pki_dir: Annotated[
        Path, typer.Option("--pki", help="The CA's directory, as the broker sees it.")
    ] = Path("pki"),
    cert: Annotated[str, typer.Option(help="The broker's server certificate name.")] = "broker",
    port: Annotated[int, typer.Option(help="The TLS listener's port.", min=1, max=65535)] = 8883,
    bind: Annotated[str | None, typer.Option(help="Listen on this address only.")] = None,
    mtls_port: Annotated[
        int | None,
        typer.Option(
            help="Also listen here, requiring a client certificate from the CA (its CN is the "
            "user; no password).",
            min=1,
            max=65535,
        ),
    ] = None,
) -> None:
    """Write passwd, acl, factoryos.conf and secrets.json to --out: every MQTT device may
    publish its own tags' topics only, every Sparkplug node its own node's messages;
    FactoryOS reads everything. New passwords are printed once (kept in secrets.json)."""
    from factoryos.model import load_site
    from factoryos.security import Listener, broker_users, site_notes, write_config
    from factoryos.security.pki import PkiDir

    with _reported():
        loaded = load_site(site)
        nodes, notes = _gateway_nodes(gateway or [], group, gateway_config or [])
        users = broker_users(loaded, nodes, platform=platform_user, uns_prefix=uns_prefix)
        where = PkiDir(pki_dir)
        certfile, keyfile = where.files(cert)
        listener = Listener(
            where.ca[0], certfile, keyfile, port=port, mtls_port=mtls_port, bind=bind
        )
        result = write_config(users, out_dir, listener, origin=str(site), rotate=rotate or [])
    _show_users(result)
    for name in result.removed:
        out.print(f"[yellow]removed[/yellow] user {name}: the site and gateways no longer have it")
    for note in [*notes, *site_notes(loaded, platform_user, listener)]:
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    files = result.files
    out.print(
        f"wrote {files.passwd}, {files.acl}, {files.conf} and {files.secrets} (0600); "
        "reload the broker (SIGHUP) to apply"
    )
