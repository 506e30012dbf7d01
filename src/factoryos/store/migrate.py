"""Schema migrations of the catalog (Alembic), run from code: no alembic.ini is needed.

The revisions ship inside the package (``store/migrations/versions``). Every command runs on
one connection in one transaction, so PostgreSQL rolls a failed upgrade back whole.

A catalog made by ``Catalog.create_all`` has the tables but no ``alembic_version``;
:func:`upgrade` stamps it at the newest revision whose tables it has (:data:`INITIAL_REVISION`
for one made before migrations existed) before upgrading it further.
"""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

# Registers the identifier tables on the catalog's Base (for create_all and autogenerate).
from factoryos.store.catalog import CatalogError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
INITIAL_REVISION = "0001"
INITIAL_TABLES = frozenset({"tenants", "sites", "assets", "tags", "api_keys", "write_audit"})
# The tables (or "table.column"s) create_all makes that later revisions introduced, in revision
# order: a create_all catalog is stamped at the newest revision whose tables (and all before)
# it has.
LATER_TABLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("0002_audit_log", frozenset({"audit_log"})),
    ("0003_users", frozenset({"users", "refresh_tokens"})),
    ("0004_alarm_history", frozenset({"alarm_history"})),
    ("0005_downtime_reasons", frozenset({"downtime_reasons"})),
    ("0006_work_orders", frozenset({"work_orders", "work_order_log"})),
    ("0007_model_registry", frozenset({"model_versions", "model_promotions"})),
    ("0008_epcis_events", frozenset({"epcis_events", "epcis_event_epcs"})),
    ("0009_identifier_registry", frozenset({"identifier_prefixes", "identifiers"})),
    ("0010_spc", frozenset({"inspection_results", "spc_alarms"})),
    ("0011_genealogy_edges", frozenset({"epcis_genealogy"})),
    ("0012_genealogy_event_columns", frozenset({"epcis_genealogy.event_time_ns"})),
    ("0013_epcis_master_data", frozenset({"epcis_vocabulary"})),
    ("0014_carbon_reports", frozenset({"carbon_reports"})),
)
CONNECT_TIMEOUT_S = 10
# A migration waits this long for locks held by a running app, then fails instead of hanging.
LOCK_TIMEOUT = "60s"
# Any constant: two processes upgrading one PostgreSQL database at once take turns.
_PG_LOCK_KEY = 0x46_4F_53_4D  # "FOSM"


class MigrationError(CatalogError):
    """A migration command that failed; the database is left as it was."""


def config() -> Config:
    """The Alembic configuration of the packaged migrations."""
    cfg = Config()
    # Config values go through configparser interpolation: a literal % must be doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return cfg


def head() -> str:
    """The newest revision the package ships."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    if found is None:
        raise MigrationError(f"migrations: no revision under {MIGRATIONS}")
    return found


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the catalog at ``url`` to ``revision`` (the newest by default)."""
    with _engine(url) as engine:
        upgrade_engine(engine, revision)


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Like :func:`upgrade` on an existing engine (e.g. a shared in-memory SQLite)."""

    def run(cfg: Config, conn: Connection) -> None:
        _adopt_unversioned(cfg, conn)
        command.upgrade(cfg, revision)

    _run(engine, run, f"upgrade to {revision!r}")


def downgrade(url: str, revision: str = "base") -> None:
    """Take the catalog at ``url`` back to ``revision``; ``base`` drops every table."""
    with _engine(url) as engine:
        _run(
            engine,
            lambda cfg, _conn: command.downgrade(cfg, revision),
            f"downgrade to {revision!r}",
        )


def current(url: str) -> str | None:
    """The catalog's revision; None for a database migrations never touched."""
    with _engine(url) as engine:
        try:
            with engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except (SQLAlchemyError, CommandError) as exc:
            raise MigrationError(f"migrate {engine.url!r}: current revision: {exc}") from exc


def make_revision(url: str, message: str) -> Path:
    """Write a new revision autogenerated from the models' difference with ``url``'s schema.

    For developers: bring ``url`` to head first; review the generated file before shipping it.
    """
    with _engine(url) as engine:
        paths: list[Path] = []

        def run(cfg: Config, _conn: Connection) -> None:
            script = command.revision(
                cfg, message=message, autogenerate=True, rev_id=_next_revision_id()
            )
            if script is None or isinstance(script, list):
                raise MigrationError(f"revision {message!r}: alembic wrote no single file")
            paths.append(Path(script.path))

        _run(engine, run, f"autogenerate revision {message!r}")
    return paths[0]


def _next_revision_id() -> str:
    """The next of the numbered revision ids 0001, 0002, …"""
    ids = [r.revision for r in ScriptDirectory.from_config(config()).walk_revisions()]
    numbers = [int(i) for i in ids if re.fullmatch(r"\d+", i)]
    return f"{max(numbers, default=0) + 1:04d}"


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    try:
        backend = make_url(url).get_backend_name()
    except SQLAlchemyError as exc:
        raise MigrationError(f"url: {exc}") from exc
    connect_args: dict[str, Any] = (
        {"timeout": CONNECT_TIMEOUT_S}
        if backend == "sqlite"
        else {"connect_timeout": CONNECT_TIMEOUT_S}
        if backend == "postgresql"
        else {}
    )
    try:
        engine = create_engine(url, connect_args=connect_args)
    except (SQLAlchemyError, ImportError) as exc:
        raise MigrationError(f"url: cannot open {url!r}: {exc}") from exc
    try:
        yield engine
    finally:
        engine.dispose()


def _run(engine: Engine, action: Callable[[Config, Connection], None], what: str) -> None:
    """Run ``action`` in one transaction; env.py picks the connection up from the config."""
    cfg = config()
    try:
        with engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
            if conn.dialect.name == "sqlite":
                # pysqlite opens no transaction before DDL: without this a failed upgrade
                # would leave the tables it had made so far.
                conn.exec_driver_sql("BEGIN")
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            cfg.attributes["connection"] = conn
            action(cfg, conn)
    except (SQLAlchemyError, CommandError, RevisionError) as exc:
        raise MigrationError(f"migrate {engine.url!r}: {what}: {exc}") from exc
    log.info("catalog %r: %s done", engine.url, what)


@contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite batch migrations drop and re-create tables, which live FK checks would refuse.

    The pragma is a no-op inside a transaction, so it is set around it, and restored because
    the connection goes back to a pool whose users expect their setting.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    was_on = bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
    conn.commit()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        yield
    finally:
        if was_on:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _columns(conn: Connection, wanted: frozenset[str]) -> set[str]:
    """The "table.column" items of ``wanted`` the database has."""
    found: set[str] = set()
    for item in wanted:
        table, _, column = item.partition(".")
        if column and inspect(conn).has_table(table):
            found |= {f"{table}.{c['name']}" for c in inspect(conn).get_columns(table)}
    return found & wanted


def _adopt_unversioned(cfg: Config, conn: Connection) -> None:
    """Stamp a catalog made by create_all (tables, no version) at the revision it matches."""
    names = set(inspect(conn).get_table_names())
    present = INITIAL_TABLES & names
    if VERSION_TABLE in names or not present:
        return
    missing = INITIAL_TABLES - names
    if missing:
        raise MigrationError(
            f"migrate {conn.engine.url!r}: the database has catalog tables {sorted(present)} "
            f"but not {sorted(missing)} and no {VERSION_TABLE}: not a catalog this can adopt"
        )
    revision = INITIAL_REVISION
    for later, tables in LATER_TABLES:
        if not tables <= names | _columns(conn, tables):
            break
        revision = later
    log.info("catalog %r was made by create_all: stamping it at %s", conn.engine.url, revision)
    command.stamp(cfg, revision)


__all__ = [
    "INITIAL_REVISION",
    "MigrationError",
    "config",
    "current",
    "downgrade",
    "head",
    "make_revision",
    "upgrade",
    "upgrade_engine",
]
