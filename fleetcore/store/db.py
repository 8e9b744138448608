"""Opening the database and migrating its schema; the one place that knows tortoise's config.

Schema changes ship as tortoise migrations in ``fleetcore/store/migrations``.
``fleethub migrate`` applies them; a separately run hub or API refuses to
start on a database with pending migrations. The embedded ``fleethub up``
migrates its SQLite file itself, since it is the only user of that file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor

from fleetcore.errors import StoreError

APP = "fleethub"
MODELS_MODULE = "fleetcore.store.models"
MIGRATIONS_MODULE = "fleetcore.store.migrations"
DEFAULT_URL = "sqlite://:memory:"


def tortoise_config(
    database_url: str = DEFAULT_URL, *, idle_transaction_timeout_s: float = 0
) -> dict[str, Any]:
    """Tortoise's config; with ``idle_transaction_timeout_s``, PostgreSQL ends a session that
    leaves a transaction idle that long (see :func:`open_database`)."""
    connection: str | dict[str, Any] = database_url
    if idle_transaction_timeout_s > 0:
        expanded = expand_db_url(database_url)
        if expanded["engine"] == "tortoise.backends.asyncpg":
            timeout_ms = str(round(idle_transaction_timeout_s * 1000))
            expanded["credentials"]["server_settings"] = {
                "idle_in_transaction_session_timeout": timeout_ms
            }
            connection = expanded
    return {
        "connections": {"default": connection},
        "apps": {
            APP: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": False,
    }


TORTOISE_ORM = tortoise_config()
"""For tortoise's own CLI when writing a migration after a model change:
``python -m tortoise -c fleetcore.store.db.TORTOISE_ORM makemigrations``."""


def _prepare(database_url: str) -> None:
    if database_url.startswith("sqlite://") and database_url != DEFAULT_URL:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def _executor() -> MigrationExecutor:
    config = tortoise_config()
    return MigrationExecutor(get_connection("default"), {APP: config["apps"][APP]})


async def pending_migrations() -> list[str]:
    """Names of migrations not yet applied to the open database."""
    steps = await (await _executor()).plan(None)
    return [step.migration.name for step in steps if not step.backward]


async def migrate() -> list[str]:
    """Apply every pending migration to the open database; returns what was applied."""
    executor = await _executor()
    pending = [step.migration.name for step in await executor.plan(None) if not step.backward]
    if pending:
        await executor.migrate(None)
    return pending


async def open_database(
    database_url: str,
    *,
    apply_migrations: bool,
    check: bool = True,
    idle_transaction_timeout_s: float = 0,
) -> None:
    """Connect; migrate first when asked, else refuse (``check``) a database that needs migrating.

    ``idle_transaction_timeout_s`` (PostgreSQL): a process frozen inside a transaction
    (SIGSTOP, a stalled VM) keeps its row locks until it wakes; the server ends its
    session after this long instead, so others need not wait for it. A hub sets it
    below its lease: the lock on its epoch row must not hold up the takeover.
    """
    _prepare(database_url)
    await Tortoise.init(
        config=tortoise_config(database_url, idle_transaction_timeout_s=idle_transaction_timeout_s)
    )
    if apply_migrations:
        await migrate()
        return
    if not check:
        return
    pending = await pending_migrations()
    if pending:
        await Tortoise.close_connections()
        raise StoreError(
            f"the database needs migrating ({', '.join(pending)} pending): run `fleethub migrate`"
        )


async def close_database() -> None:
    await Tortoise.close_connections()
