"""Alembic's entry point for the catalog's migrations.

Run only through :mod:`factoryos.store.migrate`, which hands over an open connection whose
transaction it owns; there is no alembic.ini and no offline (``--sql``) mode.
"""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import TypeDecorator
from sqlalchemy.engine import Connection

from factoryos.store.catalog import Base
from factoryos.store.migrate import MigrationError


def _render_item(kind: str, obj: Any, _ctx: AutogenContext) -> str | Literal[False]:
    """Autogenerate the models' TypeDecorators as their SQL type: revisions never import models."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: future revisions copy the table instead.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(_connection, Connection):
    raise MigrationError("catalog migrations run only through factoryos.store.migrate")
_run(_connection)
